import Foundation

/// A TCP port on 127.0.0.1 that nothing listens on, for a server a test starts.
///
/// Picked below Linux's ephemeral range (32768–60999), so it cannot collide
/// with the local port of some outgoing connection, and checked by binding it.
public func freeLoopbackPort() -> Int {
    while true {
        let port = Int.random(in: 10_000...32_000)
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { continue }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        if bound == 0 { return port }
    }
}
