import ScribeDocuments
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
        /// A receipt: each row an item and, a gap after it, its price, in the
        /// text layer (ASCII only).
        case receipt([(item: String, price: String)])
        /// A page with nothing on it.
        case blank
    }

    static func make(_ pages: [Page]) throws -> [UInt8] {
        var objects: [[UInt8]] = [[], [], Array("<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".utf8)]
        var pageIDs: [Int] = []
        /// Adds `picture` as an 8-bit grey image XObject (raw, or a JPEG) filling a
        /// page at `ppi`, and a small grey "logo" in a corner when asked.
        func place(_ picture: Picture, ppi: Double, asJPEG: Bool, withLogo: Bool) throws -> (Double, Double, String, String) {
            func image(width: Int, height: Int, _ data: [UInt8], filter: String = "") -> Int {
                objects.append(Array("<< /Type /XObject /Subtype /Image /Width \(width) /Height \(height) /ColorSpace /DeviceGray /BitsPerComponent 8 \(filter)/Length \(data.count) >>\nstream\n".utf8) + data + Array("\nendstream".utf8))
                return objects.count
            }
            let (width, height) = (Double(picture.width) / ppi * 72, Double(picture.height) / ppi * 72)
            let scan = asJPEG
                ? image(width: picture.width, height: picture.height, try picture.jpeg(), filter: "/Filter /DCTDecode ")
                : image(width: picture.width, height: picture.height, try picture.greyRows())
            var resources = "/Font << /F1 3 0 R >> /XObject << /Im0 \(scan) 0 R"
            var content = "q \(width) 0 0 \(height) 0 0 cm /Im0 Do Q"
            if withLogo {
                let logo = image(width: 16, height: 16, [UInt8](repeating: 128, count: 16 * 16))
                resources += " /Im1 \(logo) 0 R"
                content += " q 8 0 0 8 2 2 cm /Im1 Do Q"
            }
            return (width, height, resources + " >>", content)
        }
        for page in pages {
            var (width, height) = (612.0, 792.0)
            var content = ""
            var resources = "/Font << /F1 3 0 R >>"
            switch page {
            case .text(let line):
                content = "BT /F1 18 Tf 72 700 Td (\(line)) Tj ET"
            case .scan(let fixture, let ppi):
                (width, height, resources, content) = try place(Picture.fixture(fixture), ppi: ppi, asJPEG: false, withLogo: false)
            case .photo(let picture, let ppi):
                (width, height, resources, content) = try place(picture, ppi: ppi, asJPEG: true, withLogo: false)
            case .withLogo(let picture, let ppi):
                (width, height, resources, content) = try place(picture, ppi: ppi, asJPEG: false, withLogo: true)
            case .receipt(let rows):
                content = rows.enumerated().map { index, row in
                    let y = 720 - index * 26
                    // The price a few spaces after its item, as a till prints it (no straight gutter).
                    let x = 72 + 9 * row.item.count + 16
                    return "BT /F1 16 Tf 72 \(y) Td (\(row.item)) Tj ET BT /F1 16 Tf \(x) \(y) Td (\(row.price)) Tj ET"
                }.joined(separator: " ")
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
}
