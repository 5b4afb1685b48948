import Synchronization

/// Large tensor buffers kept for reuse, so a training loop that repeats the same shapes stops
/// asking the system allocator for fresh pages after its first step.
///
/// Without a pool, every activation, gradient and convolution workspace of a few megabytes is
/// a fresh `mmap` (or heap growth that `free` trims again), and the kernel zeroes its pages
/// on first touch: about a tenth of a CNN step. With a pool installed for a scope, buffers of
/// at least ``minimumByteCount`` bytes that ``Tensor``s and kernels allocate in that scope come
/// from the pool, and go back to it when freed, wherever that happens. Buffers are reused
/// only for requests of exactly their size, so a steady training loop reuses everything.
///
/// A ``NeuralNetwork`` owns one and installs it around its forward, backward and prediction.
/// Any other code can do the same:
///
/// ```swift
/// let pool = BufferPool()
/// for batch in batches {
///     pool.withInstalled { step(batch) }
/// }
/// ```
public final class BufferPool: Sendable {
    /// Smaller buffers come from the system allocator. Above a few kilobytes the pool is the
    /// cheaper of the two: a recurrent layer's graph holds a few tensors of tens of kilobytes
    /// per time step, and serving those from the pool made its autodiff step about 5% faster
    /// on two threads.
    public static let minimumByteCount = 1 << 12

    @TaskLocal static var current: BufferPool?

    private struct State {
        /// Free buffers' addresses by byte count.
        var free: [Int: [UInt]] = [:]
        var cachedBytes = 0
        var allocations = 0
        var reuses = 0
    }
    private let state = Mutex(State())
    /// The most bytes kept while unused; buffers freed beyond it go back to the system.
    public let capacity: Int

    /// Creates an empty pool that keeps at most `capacity` bytes of unused buffers.
    public init(capacity: Int = 1 << 30) {
        Misuse.check(capacity >= 0, "BufferPool", "capacity \(capacity) must not be negative")
        self.capacity = capacity
    }

    deinit {
        state.withLock { state in
            for buffers in state.free.values {
                for address in buffers { UnsafeMutableRawPointer(bitPattern: address)!.deallocate() }
            }
        }
    }

    /// Runs `body` with this pool serving the large allocations made on this task.
    public func withInstalled<R>(_ body: () throws -> R) rethrows -> R {
        try Self.$current.withValue(self, operation: body)
    }

    /// How many large buffers the pool has allocated fresh, and how many it served from its
    /// cache, since it was made.
    public var statistics: (allocations: Int, reuses: Int) {
        state.withLock { ($0.allocations, $0.reuses) }
    }

    @usableFromInline func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        let reused = state.withLock { state -> UInt? in
            guard let address = state.free[byteCount]?.popLast() else {
                state.allocations += 1
                return nil
            }
            state.cachedBytes -= byteCount
            state.reuses += 1
            return address
        }
        return reused.flatMap { UnsafeMutableRawPointer(bitPattern: $0) }
            ?? UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64)
    }

    @usableFromInline func deallocate(_ buffer: UnsafeMutableRawPointer, byteCount: Int) {
        let address = UInt(bitPattern: buffer)
        let kept = state.withLock { state in
            guard state.cachedBytes + byteCount <= capacity else { return false }
            state.free[byteCount, default: []].append(address)
            state.cachedBytes += byteCount
            return true
        }
        if !kept { buffer.deallocate() }
    }

    /// A buffer of `byteCount` bytes, 64-byte aligned, from the installed pool when it is large
    /// enough to pool; returns the pool to hand it back to, or `nil` for the system allocator.
    @usableFromInline
    static func allocate(byteCount: Int) -> (UnsafeMutableRawPointer, BufferPool?) {
        if byteCount >= minimumByteCount, let pool = current {
            return (pool.allocate(byteCount: byteCount), pool)
        }
        return (UnsafeMutableRawPointer.allocate(byteCount: byteCount, alignment: 64), nil)
    }
}

/// Scratch memory for kernels: `count` uninitialized scalars from the installed
/// ``BufferPool``, if any, released when `body` returns.
@inlinable
func withWorkspace<S, R>(_ type: S.Type, count: Int, _ body: (UnsafeMutableBufferPointer<S>) throws -> R) rethrows -> R {
    let byteCount = max(count, 1) * MemoryLayout<S>.stride
    let (raw, pool) = BufferPool.allocate(byteCount: byteCount)
    defer {
        if let pool { pool.deallocate(raw, byteCount: byteCount) } else { raw.deallocate() }
    }
    return try body(UnsafeMutableBufferPointer(start: raw.bindMemory(to: S.self, capacity: max(count, 1)), count: count))
}
