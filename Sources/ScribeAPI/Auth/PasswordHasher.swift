import Foundation
import HummingbirdBcrypt
import NIOPosix

/// bcrypt hashing and checking, run on NIO's blocking thread pool so a
/// deliberately slow hash never stalls an event loop.
struct PasswordHasher: Sendable {
    /// The work factor for new hashes.
    let cost: UInt8
    let threadPool: NIOThreadPool

    /// A hash of a random password at the same cost, checked when a login names
    /// no user, so that answer takes as long as for a real user and does not
    /// reveal who is registered.
    let dummyHash: String

    /// Creates the hasher; computes its dummy hash once, at start-up.
    init(cost: UInt8, threadPool: NIOThreadPool = .singleton) {
        self.cost = cost
        self.threadPool = threadPool
        dummyHash = Bcrypt.hash(UUID().uuidString, cost: cost)
    }

    func hash(_ password: String) async throws -> String {
        let cost = self.cost
        return try await threadPool.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    func verify(_ password: String, against hash: String?) async throws -> Bool {
        let known = hash != nil
        let hash = hash ?? dummyHash
        let matches = try await threadPool.runIfActive { Bcrypt.verify(password, hash: hash) }
        return matches && known
    }
}
