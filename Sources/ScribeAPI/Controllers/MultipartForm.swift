import Foundation
import MultipartKit
import NIOCore

/// A `multipart/form-data` body, parsed into its parts.
struct MultipartForm {
    struct Part {
        var name: String?
        var filename: String?
        var contentType: String?
        var body: ByteBuffer
    }

    var parts: [Part]

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

    /// Parses `body`; a part bigger than `maxPartBytes` is a 413, a body that
    /// is not well-formed multipart a 400.
    init(body: ByteBuffer, boundary: String, maxPartBytes: Int) throws(APIError) {
        let parser = MultipartParser(boundary: boundary)
        var parts: [Part] = []
        var current = Part(body: ByteBuffer())
        var tooLarge: String?
        var open = false
        parser.onHeader = { field, value in
            open = true
            switch field.lowercased() {
            case "content-disposition":
                let parameters = Self.parameters(of: value)
                current.name = parameters["name"]
                current.filename = parameters["filename"]
            case "content-type":
                current.contentType = value
            default:
                break
            }
        }
        parser.onBody = { chunk in
            open = true
            if current.body.readableBytes + chunk.readableBytes > maxPartBytes {
                tooLarge = tooLarge ?? current.filename ?? current.name ?? "A part"
                return
            }
            current.body.writeBuffer(&chunk)
        }
        parser.onPartComplete = {
            parts.append(current)
            current = Part(body: ByteBuffer())
            open = false
        }
        do {
            try parser.execute(body)
        } catch {
            throw .badRequest("The request body is not valid multipart/form-data.")
        }
        if let tooLarge {
            throw APIError(
                .contentTooLarge,
                code: "file_too_large",
                message: "\(tooLarge) is larger than the \(maxPartBytes / (1 << 20)) MiB limit per file.",
                field: "file"
            )
        }
        guard !open, !parts.isEmpty else { throw .badRequest("The multipart body is incomplete.") }
        self.parts = parts
    }

    /// The text of the first part named `name`.
    func text(_ name: String) -> String? {
        parts.first { $0.name == name && $0.filename == nil }.map { String(buffer: $0.body) }
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
