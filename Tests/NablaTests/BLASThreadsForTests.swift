import Foundation
import Nabla

/// OpenBLAS's thread count is one setting for the whole process, and Swift Testing runs tests
/// in parallel: a test that sets it holds this lock until it has put the old count back, so two
/// such tests never see each other's count.
enum BLASThreadsForTests {
    private static let lock = NSLock()

    /// Runs `body` with OpenBLAS on `count` threads, then restores the previous count.
    static func with<R>(_ count: Int, _ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        let previous = BLAS.threadCount
        BLAS.setThreadCount(count)
        defer { BLAS.setThreadCount(previous) }
        return try body()
    }

    /// Runs `body` while no other test can change the thread count, for a test whose buffers or
    /// results depend on it (the Winograd workspace grows with the threads).
    static func unchanged<R>(_ body: () throws -> R) rethrows -> R {
        lock.lock()
        defer { lock.unlock() }
        return try body()
    }
}
