import CTesseract
import Foundation
import ScribeTestSupport
import Testing

/// Writes small PDFs for tests: text-layer pages, scanned (image-only) pages and blank pages.
struct PDFBuilder {
    enum Page {
        /// A page with one line of Helvetica text in its text layer (ASCII only).
        case text(String)
        /// A page that is only a grey image of the fixture, scanned at `ppi`.
        case scan(fixture: String, ppi: Double)
        /// A page that is only a JPEG of the picture (as phone-scanner apps
        /// make them), placed at `ppi`.
        case photo(Picture, ppi: Double)
        /// The picture at `ppi` with a small second image (a logo) in a
        /// corner: not one full-page image, so the page is rendered.
        case withLogo(Picture, ppi: Double)
        /// A page with nothing on it.
        case blank
    }

    static func make(_ pages: [Page]) throws -> [UInt8] {
        var objects: [[UInt8]] = [[], [], Array("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".utf8)]
        var pageIDs: [Int] = []
        for page in pages {
            var (width, height) = (612.0, 792.0)
            var content = ""
            var resources = "/Font << /F1 3 0 R >>"
            switch page {
            case .text(let line):
                content = "BT /F1 18 Tf 72 700 Td (\(line)) Tj ET"
            case .scan(let fixture, let ppi):
                let (pixelWidth, pixelHeight, grey) = try greyPixels(fixture)
                (width, height) = (Double(pixelWidth) / ppi * 72, Double(pixelHeight) / ppi * 72)
                objects.append(Array("<< /Type /XObject /Subtype /Image /Width \(pixelWidth) /Height \(pixelHeight) /ColorSpace /DeviceGray /BitsPerComponent 8 /Length \(grey.count) >>\nstream\n".utf8) + grey + Array("\nendstream".utf8))
                resources += " /XObject << /Im0 \(objects.count) 0 R >>"
                content = "q \(width) 0 0 \(height) 0 0 cm /Im0 Do Q"
            case .photo(let picture, let ppi):
                let jpeg = try picture.jpeg()
                (width, height) = (Double(picture.width) / ppi * 72, Double(picture.height) / ppi * 72)
                objects.append(Array("<< /Type /XObject /Subtype /Image /Width \(picture.width) /Height \(picture.height) /ColorSpace /DeviceGray /BitsPerComponent 8 /Filter /DCTDecode /Length \(jpeg.count) >>\nstream\n".utf8) + jpeg + Array("\nendstream".utf8))
                resources += " /XObject << /Im0 \(objects.count) 0 R >>"
                content = "q \(width) 0 0 \(height) 0 0 cm /Im0 Do Q"
            case .withLogo(let picture, let ppi):
                let grey = try picture.greyRows()
                (width, height) = (Double(picture.width) / ppi * 72, Double(picture.height) / ppi * 72)
                objects.append(Array("<< /Type /XObject /Subtype /Image /Width \(picture.width) /Height \(picture.height) /ColorSpace /DeviceGray /BitsPerComponent 8 /Length \(grey.count) >>\nstream\n".utf8) + grey + Array("\nendstream".utf8))
                let scan = objects.count
                let logo = [UInt8](repeating: 128, count: 16 * 16)
                objects.append(Array("<< /Type /XObject /Subtype /Image /Width 16 /Height 16 /ColorSpace /DeviceGray /BitsPerComponent 8 /Length \(logo.count) >>\nstream\n".utf8) + logo + Array("\nendstream".utf8))
                resources += " /XObject << /Im0 \(scan) 0 R /Im1 \(objects.count) 0 R >>"
                content = "q \(width) 0 0 \(height) 0 0 cm /Im0 Do Q q 8 0 0 8 2 2 cm /Im1 Do Q"
            case .blank:
                break
            }
            objects.append(Array("<< /Length \(content.utf8.count) >>\nstream\n\(content)\nendstream".utf8))
            objects.append(Array("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 \(width) \(height)] /Resources << \(resources) >> /Contents \(objects.count) 0 R >>".utf8))
            pageIDs.append(objects.count)
        }
        objects[0] = Array("<< /Type /Catalog /Pages 2 0 R >>".utf8)
        objects[1] = Array("<< /Type /Pages /Kids [\(pageIDs.map { "\($0) 0 R" }.joined(separator: " "))] /Count \(pageIDs.count) >>".utf8)

        var pdf = Array("%PDF-1.4\n".utf8)
        var offsets: [Int] = []
        for (index, object) in objects.enumerated() {
            offsets.append(pdf.count)
            pdf += Array("\(index + 1) 0 obj\n".utf8) + object + Array("\nendobj\n".utf8)
        }
        let xref = pdf.count
        pdf += Array("xref\n0 \(objects.count + 1)\n0000000000 65535 f \n".utf8)
        for offset in offsets {
            let digits = String(offset)
            pdf += Array((String(repeating: "0", count: 10 - digits.count) + digits + " 00000 n \n").utf8)
        }
        pdf += Array("trailer\n<< /Size \(objects.count + 1) /Root 1 0 R >>\nstartxref\n\(xref)\n%%EOF\n".utf8)
        return pdf
    }

    /// A fixture's pixels as 8-bit grey rows.
    private static func greyPixels(_ fixture: String) throws -> (Int, Int, [UInt8]) {
        let picture = try Picture.fixture(fixture)
        return (picture.width, picture.height, try picture.greyRows())
    }
}
