import Foundation

/// Splits a SQL file into single statements, so each can run over the extended
/// query protocol (which takes one statement at a time).
///
/// It understands `--` and `/* */` comments, single-quoted strings, quoted
/// identifiers and dollar-quoted bodies (`$$ … $$`, `$fn$ … $fn$`), so a `;`
/// inside any of them does not end a statement.
public enum SQLScript {
    /// The statements of `sql`, trimmed, without empty ones.
    public static func statements(in sql: String) -> [String] {
        let scalars = Array(sql.unicodeScalars)
        var statements: [String] = []
        var current = String.UnicodeScalarView()
        var index = 0

        func flush() {
            let statement = String(current).trimmingCharacters(in: .whitespacesAndNewlines)
            if !statement.isEmpty, !isOnlyComments(statement) { statements.append(statement) }
            current = String.UnicodeScalarView()
        }

        while index < scalars.count {
            let scalar = scalars[index]
            let next: Unicode.Scalar? = index + 1 < scalars.count ? scalars[index + 1] : nil
            switch scalar {
            case "-" where next == "-":
                while index < scalars.count, scalars[index] != "\n" {
                    current.append(scalars[index])
                    index += 1
                }
                continue
            case "/" where next == "*":
                let end = find(["*", "/"], in: scalars, from: index + 2) ?? scalars.count
                current.append(contentsOf: scalars[index..<end])
                index = end
                continue
            case "'", "\"":
                let end = find([scalar], in: scalars, from: index + 1) ?? scalars.count
                current.append(contentsOf: scalars[index..<end])
                index = end
                continue
            case "$":
                if let tagEnd = dollarTagEnd(in: scalars, from: index) {
                    let tag = Array(scalars[index..<tagEnd])
                    let end = find(tag, in: scalars, from: tagEnd) ?? scalars.count
                    current.append(contentsOf: scalars[index..<end])
                    index = end
                    continue
                }
            case ";":
                flush()
                index += 1
                continue
            default:
                break
            }
            current.append(scalar)
            index += 1
        }
        flush()
        return statements
    }

    /// The index just past the first occurrence of `needle` at or after `start`.
    private static func find(_ needle: [Unicode.Scalar], in scalars: [Unicode.Scalar], from start: Int) -> Int? {
        guard !needle.isEmpty, start <= scalars.count - needle.count else { return nil }
        var index = start
        while index <= scalars.count - needle.count {
            if Array(scalars[index..<index + needle.count]) == needle { return index + needle.count }
            index += 1
        }
        return nil
    }

    /// If a dollar-quote tag (`$$` or `$name$`) starts at `start`, the index just past it.
    private static func dollarTagEnd(in scalars: [Unicode.Scalar], from start: Int) -> Int? {
        var index = start + 1
        while index < scalars.count {
            let scalar = scalars[index]
            if scalar == "$" { return index + 1 }
            guard scalar.properties.isAlphabetic || scalar == "_" || (index > start + 1 && ("0"..."9").contains(scalar)) else {
                return nil
            }
            index += 1
        }
        return nil
    }

    private static func isOnlyComments(_ statement: String) -> Bool {
        statement.split(separator: "\n").allSatisfy {
            let line = $0.trimmingCharacters(in: .whitespaces)
            return line.isEmpty || line.hasPrefix("--")
        }
    }
}
