/// The text the offline summariser works on, taken apart: an optional caption, the names of
/// attached documents (`[Document: name]` marker lines) and the text to summarise.
struct ExtractiveSubject {
    /// Text before the first document marker, when there is a document.
    var caption: String?
    /// Names from `[Document: name]` lines, in order.
    var documentNames: [String]
    /// The text to describe and summarise: the documents' text, or the whole message.
    var body: String

    init(_ text: String) {
        var captionLines: [String] = []
        var bodyLines: [String] = []
        var names: [String] = []
        for rawLine in text.split(separator: "\n", omittingEmptySubsequences: false) {
            let line = String(rawLine)
            if let name = Self.documentName(in: line) {
                names.append(name)
                continue
            }
            if names.isEmpty {
                captionLines.append(line)
            } else {
                bodyLines.append(line)
            }
        }
        documentNames = names
        if names.isEmpty {
            caption = nil
            body = text.trimmingWhitespace()
        } else {
            let captionText = captionLines.joined(separator: "\n").trimmingWhitespace()
            caption = captionText.isEmpty ? nil : captionText
            body = bodyLines.joined(separator: "\n").trimmingWhitespace()
        }
    }

    /// The name in a `[Document: name]` line, or `nil` for any other line.
    private static func documentName(in line: String) -> String? {
        let trimmed = line.trimmingWhitespace()
        let prefix = "[Document:"
        guard trimmed.hasPrefix(prefix), trimmed.hasSuffix("]") else { return nil }
        let name = String(trimmed.dropFirst(prefix.count).dropLast()).trimmingWhitespace()
        return name.isEmpty ? "untitled" : name
    }
}
