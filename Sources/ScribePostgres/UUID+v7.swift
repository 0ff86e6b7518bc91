import Foundation
import Synchronization

extension UUID {
    /// A new time-ordered UUID (RFC 9562 version 7).
    ///
    /// The first 48 bits are the Unix time in milliseconds, so ids sort in creation
    /// order; within one millisecond a per-process counter keeps them increasing,
    /// which lets keyset pagination use the id as its cursor.
    public static func v7() -> UUID {
        UUIDv7Generator.shared.next()
    }
}

/// Generates monotonic version 7 UUIDs for this process.
final class UUIDv7Generator: Sendable {
    static let shared = UUIDv7Generator()

    private struct State {
        var lastMillis: UInt64 = 0
        var counter: UInt16 = 0
    }

    private let state = Mutex(State())

    func next() -> UUID {
        let now = UInt64(Date().timeIntervalSince1970 * 1000)
        let (millis, counter) = state.withLock { state -> (UInt64, UInt16) in
            if now > state.lastMillis {
                state.lastMillis = now
                // Start the 12-bit counter at a random point in its lower half so
                // there is room to count up within the millisecond.
                state.counter = UInt16.random(in: 0..<0x800)
            } else if state.counter < 0xFFF {
                state.counter += 1
            } else {
                // Counter exhausted within this millisecond: borrow the next one.
                state.lastMillis += 1
                state.counter = 0
            }
            return (state.lastMillis, state.counter)
        }
        var random = SystemRandomNumberGenerator()
        let tail = random.next() as UInt64
        var bytes: uuid_t = (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &bytes) { raw in
            raw[0] = UInt8(truncatingIfNeeded: millis >> 40)
            raw[1] = UInt8(truncatingIfNeeded: millis >> 32)
            raw[2] = UInt8(truncatingIfNeeded: millis >> 24)
            raw[3] = UInt8(truncatingIfNeeded: millis >> 16)
            raw[4] = UInt8(truncatingIfNeeded: millis >> 8)
            raw[5] = UInt8(truncatingIfNeeded: millis)
            raw[6] = 0x70 | UInt8(truncatingIfNeeded: counter >> 8)
            raw[7] = UInt8(truncatingIfNeeded: counter)
            for index in 0..<8 {
                raw[8 + index] = UInt8(truncatingIfNeeded: tail >> (8 * UInt64(index)))
            }
            raw[8] = 0x80 | (raw[8] & 0x3F)
        }
        return UUID(uuid: bytes)
    }
}
