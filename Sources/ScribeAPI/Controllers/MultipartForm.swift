import Foundation
import MultipartKit
import NIOCore

/// What an upload reads from `multipart/form-data` headers: the body's
/// boundary, and a part's `Content-Disposition` parameters. The body itself is
/// read as it streams in (``StreamedForm``).
enum MultipartForm {
    /// The boundary of a `multipart/form-data` content type, or nil for any other type.
    static func boundary(fromContentType contentType: String?) -> String? {
        guard let contentType else { return nil }
        let fields = contentType.split(separator: ";").map { $0.trimmingCharacters(in: .whitespaces) }
        guard fields.first?.lowercased() == "multipart/form-data" else { return nil }
        for field in fields.dropFirst() where field.lowercased().hasPrefix("boundary=") {
            let value = field.dropFirst("boundary=".count)
            let boundary = value.hasPrefix("\"") && value.hasSuffix("\"") && value.count >= 2 ? value.dropFirst().dropLast() : value
            return boundary.isEmpty ? nil : String(boundary)
        }
        return nil
    }

    /// `form-data; name="file"; filename="a.png"` → ["name": "file", "filename": "a.png"].
    static func parameters(of header: String) -> [String: String] {
        var result: [String: String] = [:]
        var index = header.startIndex
        func skipSpaces() { while index < header.endIndex, header[index] == " " || header[index] == "\t" { index = header.index(after: index) } }
        // Skip the disposition type.
        while index < header.endIndex, header[index] != ";" { index = header.index(after: index) }
        while index < header.endIndex {
            index = header.index(after: index)  // past ';'
            skipSpaces()
            var key = ""
            while index < header.endIndex, header[index] != "=", header[index] != ";" {
                key.append(header[index])
                index = header.index(after: index)
            }
            var value = ""
            if index < header.endIndex, header[index] == "=" {
                index = header.index(after: index)
                if index < header.endIndex, header[index] == "\"" {
                    index = header.index(after: index)
                    while index < header.endIndex, header[index] != "\"" {
                        if header[index] == "\\", header.index(after: index) < header.endIndex { index = header.index(after: index) }
                        value.append(header[index])
                        index = header.index(after: index)
                    }
                    if index < header.endIndex { index = header.index(after: index) }
                    while index < header.endIndex, header[index] != ";" { index = header.index(after: index) }
                } else {
                    while index < header.endIndex, header[index] != ";" {
                        value.append(header[index])
                        index = header.index(after: index)
                    }
                }
            }
            key = key.trimmingCharacters(in: .whitespaces).lowercased()
            if key == "filename*", let decoded = Self.decodeExtended(value) {
                result["filename"] = decoded
            } else if !key.isEmpty, result[key] == nil {
                result[key] = value.trimmingCharacters(in: .whitespaces)
            }
        }
        return result
    }

    /// RFC 5987 `UTF-8''na%C3%AFve.png` → `naïve.png`.
    static func decodeExtended(_ value: String) -> String? {
        let pieces = value.split(separator: "'", maxSplits: 2, omittingEmptySubsequences: false)
        guard pieces.count == 3 else { return nil }
        return String(pieces[2]).removingPercentEncoding
    }
}
