import Foundation

/// Long PDFs made from the fixtures' pages, for the page-by-page reading.
public enum LongPDF {
    /// One blank page of `width` × `height` points (at most 14,400, 200 inches):
    /// no text layer, so it is read as a scan. A 14,400-point page is too many
    /// pixels to render even at 70 dpi: a page that cannot be read.
    public static func blankPage(width: Int = 612, height: Int = 792) -> [UInt8] {
        let objects = [
            "<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 \(width) \(height)] >>",
        ]
        var pdf = "%PDF-1.4\n"
        var offsets: [Int] = []
        for (index, object) in objects.enumerated() {
            offsets.append(pdf.utf8.count)
            pdf += "\(index + 1) 0 obj\n\(object)\nendobj\n"
        }
        let xref = pdf.utf8.count
        pdf += "xref\n0 \(objects.count + 1)\n0000000000 65535 f \n"
        for offset in offsets { pdf += String(format: "%010d 00000 n \n", offset) }
        pdf += "trailer\n<< /Size \(objects.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n"
        return Array(pdf.utf8)
    }

    /// The PDFs `parts` (each a whole PDF's bytes) joined in order with
    /// poppler's `pdfunite`.
    public static func joined(_ parts: [[UInt8]]) async throws -> [UInt8] {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("scribe-longpdf-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: folder) }
        var paths: [String] = []
        for (index, part) in parts.enumerated() {
            let path = folder.appendingPathComponent("part-\(index).pdf").path
            guard FileManager.default.createFile(atPath: path, contents: Data(part)) else { throw HarnessError("cannot write \(path)") }
            paths.append(path)
        }
        let output = folder.appendingPathComponent("joined.pdf").path
        let run = try await ChildProcess.run(URL(fileURLWithPath: "/usr/bin/pdfunite"), paths + [output], timeout: .seconds(60), label: "pdfunite")
        guard run.status == 0, let bytes = FileManager.default.contents(atPath: output) else {
            throw HarnessError("pdfunite failed (\(run.status)): \(run.errors)")
        }
        return Array(bytes)
    }
}
