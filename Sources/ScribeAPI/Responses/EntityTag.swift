import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

/// A strong entity tag of a response body, for conditional GETs: a client
/// that polls sends the tag back in `If-None-Match` and gets `304 Not
/// Modified`, with no body, until the resource changes.
///
/// The tag is the body's 64-bit FNV-1a hash: not for secrecy, only so that
/// any change of the bytes changes the tag.
struct EntityTag: Equatable, CustomStringConvertible {
    let value: UInt64

    init(of body: ByteBuffer) {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in body.readableBytesView {
            hash ^= UInt64(byte)
            hash &*= 0x0000_0100_0000_01b3
        }
        value = hash
    }

    /// `"<16 hex digits>"`, quotes included, as HTTP writes it.
    var description: String {
        let hex = String(value, radix: 16)
        return "\"" + String(repeating: "0", count: 16 - hex.count) + hex + "\""
    }

    /// Whether `If-None-Match` (a list of tags, or `*`) names this tag; weak
    /// tags (`W/"…"`) compare by their value, as RFC 9110 says for this header.
    func isMatched(byIfNoneMatch header: String?) -> Bool {
        guard let header else { return false }
        let tag = description
        return header.split(separator: ",").contains { candidate in
            var candidate = candidate.trimmingCharacters(in: .whitespaces)
            if candidate == "*" { return true }
            if candidate.hasPrefix("W/") { candidate.removeFirst(2) }
            return candidate == tag
        }
    }
}

extension Response {
    /// A JSON body with its entity tag, or `304 Not Modified` when the
    /// request's `If-None-Match` already names it.
    static func json(_ body: ByteBuffer, conditionalOn request: Request) -> Response {
        let tag = EntityTag(of: body)
        if tag.isMatched(byIfNoneMatch: request.headers[.ifNoneMatch]) {
            return Response(status: .notModified, headers: [.eTag: tag.description, .cacheControl: "no-cache"])
        }
        var response = Response.json(body)
        response.headers[.eTag] = tag.description
        response.headers[.cacheControl] = "no-cache"
        return response
    }
}
