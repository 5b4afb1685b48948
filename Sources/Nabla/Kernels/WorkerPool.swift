import Dispatch

/// Nabla's parallel loops: every kernel that splits its work over threads runs its parts here.
@usableFromInline
enum WorkerPool {
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
            let shared = UncheckedSendable(body)
            DispatchQueue.concurrentPerform(iterations: parts) { shared.value($0) }
        }
    }
}
