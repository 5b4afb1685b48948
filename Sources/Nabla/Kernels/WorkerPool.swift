import CNablaKernels
import Dispatch

/// Nabla's parallel loops: every kernel that splits its work over threads runs its parts here.
///
/// The pool has a worker thread for every online core but one; the thread that starts a loop runs
/// parts too (`WorkerPool.c`). After a loop the workers spin for ``spinMicroseconds`` (yielding
/// now and then) before they sleep: a loop that follows soon starts in about 0.25 µs, where a
/// sleeping Dispatch worker took 50–100 µs to wake on the machines Nabla was measured on, longer
/// than many of the products an LSTM step or a small dense layer splits.
///
/// A loop started inside a part runs serially on that thread, and a loop started while another
/// thread's loop holds the pool runs on Dispatch's threads instead.
@usableFromInline
enum WorkerPool {
    /// How long idle workers spin before they sleep.
    static let spinMicroseconds: Int32 = 200

    /// The pool, created at its first loop of more than one part (so a process that never
    /// splits work starts no threads).
    @usableFromInline
    static let shared = UncheckedSendable(
        nabla_worker_pool_create(Int32(min(BLAS.onlineCores, 256) - 1), spinMicroseconds))

    /// The pool's worker threads (not counting the threads that start loops).
    static var workers: Int { shared.value.map { Int(nabla_worker_pool_workers($0)) } ?? 0 }

    /// Runs `body(part)` for every `part` in `0..<parts`, in parallel, and returns when all have
    /// run. Parts may run in any order and on any thread (the caller's too), so `body` must give
    /// the same result whichever thread runs a part.
    @inlinable
    static func run(parts: Int, _ body: (Int) -> Void) {
        guard parts > 1 else {
            if parts == 1 { body(0) }
            return
        }
        withoutActuallyEscaping(body) { body in
            switch runOnPool(parts: parts, body) {
            case 0:
                return
            case 1:
                for part in 0..<parts { body(part) }
            default:
                let shared = UncheckedSendable(body)
                DispatchQueue.concurrentPerform(iterations: parts) { shared.value($0) }
            }
        }
    }

    /// `nabla_worker_pool_run` with a Swift closure: 0 if it ran, 1 or 2 if not (see WorkerPool.h).
    @usableFromInline
    static func runOnPool(parts: Int, _ body: @escaping (Int) -> Void) -> Int32 {
        guard let pool = shared.value else { return 2 }
        var body = body
        return withUnsafeMutablePointer(to: &body) { context in
            nabla_worker_pool_run(pool, Int64(parts), { context, part in
                context!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(part))
            }, context)
        }
    }
}
