import Foundation
import Testing

@testable import ScribePostgres

@Suite struct UUIDv7Tests {
    @Test func idsAreVersion7AndIncreaseInCreationOrder() {
        let ids = (0..<10_000).map { _ in UUID.v7() }
        for id in ids {
            #expect(id.uuid.6 >> 4 == 7)
            #expect(id.uuid.8 >> 6 == 0b10)
        }
        let strings = ids.map { $0.uuidString.lowercased() }
        #expect(strings == strings.sorted())
        #expect(Set(ids).count == ids.count)
    }

    @Test func timestampIsNow() {
        let id = UUID.v7()
        let bytes = [id.uuid.0, id.uuid.1, id.uuid.2, id.uuid.3, id.uuid.4, id.uuid.5]
        let millis = bytes.reduce(UInt64(0)) { $0 << 8 | UInt64($1) }
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        #expect(millis <= now + 1 && now - millis < 5_000)
    }
}
