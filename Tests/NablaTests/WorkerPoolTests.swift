import Foundation
import Synchronization
import Testing

@testable import Nabla

/// The worker pool's protocol: every part runs exactly once, whatever the timing, in loops that
/// follow each other at once, after the workers have gone to sleep, nested, and from several
/// threads at the same time.
@Suite struct WorkerPoolTests {
    /// Runs one loop of `parts` and returns how often each part ran.
    private static func counts(parts: Int, work: Int = 0) -> [Int] {
        let runs = Mutex([Int](repeating: 0, count: parts))
        WorkerPool.run(parts: parts) { part in
            var x = 0.0
            for i in 0..<(work * (part % 3)) { x += Double(i) }  // uneven parts keep workers claiming
            if x < 0 { return }
            runs.withLock { $0[part] += 1 }
        }
        return runs.withLock { $0 }
    }

    @Test(arguments: [0, 1, 2, 3, 7, 64, 1000])
    func everyPartRunsOnce(parts: Int) {
        #expect(Self.counts(parts: parts) == Array(repeating: 1, count: parts))
        #expect(Self.counts(parts: parts, work: 2000) == Array(repeating: 1, count: parts))
    }

    /// Back-to-back loops, where late workers meet the next loop's job word: a stale claim
    /// would run a part twice or skip one.
    @Test func manyLoopsInARow() {
        var wrong = 0
        for round in 0..<20_000 {
            let parts = 2 + round % 5
            if Self.counts(parts: parts) != Array(repeating: 1, count: parts) { wrong += 1 }
        }
        #expect(wrong == 0)
    }

    /// Loops after the workers have stopped spinning: they are woken from the futex (or the
    /// caller runs every part; either way each part runs once).
    @Test func loopsAfterTheWorkersSleep() {
        for _ in 0..<5 {
            Thread.sleep(forTimeInterval: Double(WorkerPool.spinMicroseconds) * 3e-6)
            #expect(Self.counts(parts: 4, work: 500) == [1, 1, 1, 1])
        }
    }

    /// A loop inside a part runs serially on that thread and completes.
    @Test func nestedLoopsComplete() {
        let runs = Mutex([Int](repeating: 0, count: 6 * 5))
        WorkerPool.run(parts: 6) { outer in
            WorkerPool.run(parts: 5) { part in runs.withLock { $0[outer * 5 + part] += 1 } }
        }
        #expect(runs.withLock { $0 } == Array(repeating: 1, count: 30))
    }

    /// Loops started by several threads at once: the one holding the pool runs there, the
    /// others on Dispatch's threads.
    @Test func loopsFromSeveralThreads() {
        let wrong = Atomic<Int>(0)
        DispatchQueue.concurrentPerform(iterations: 4) { thread in
            for round in 0..<500 {
                let parts = 2 + (round + thread) % 4
                if Self.counts(parts: parts) != Array(repeating: 1, count: parts) {
                    wrong.add(1, ordering: .relaxed)
                }
            }
        }
        #expect(wrong.load(ordering: .relaxed) == 0)
    }

    /// One worker per online core but one: the caller is the other thread.
    @Test func workerCount() {
        _ = Self.counts(parts: 2)
        #expect(WorkerPool.workers == min(BLAS.onlineCores, 256) - 1)
    }
}
