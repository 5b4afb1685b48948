/// The heap buffer behind a ``Tensor``: contiguous scalars, 64-byte aligned for SIMD loads.
///
/// Immutable once shared: ``Tensor`` copies it before writing unless it is uniquely referenced,
/// which is what makes sharing it across tasks safe.
@usableFromInline
final class TensorStorage<Scalar: TensorScalar>: @unchecked Sendable {
    @usableFromInline let base: UnsafeMutablePointer<Scalar>
    @usableFromInline let count: Int
    /// The pool the buffer goes back to, if it came from one.
    @usableFromInline let pool: BufferPool?

    /// Allocates room for `count` scalars and leaves them uninitialized; large buffers come
    /// from the installed ``BufferPool``, if any.
    @usableFromInline
    init(uninitializedCount count: Int) {
        let (raw, pool) = BufferPool.allocate(byteCount: max(count, 1) * MemoryLayout<Scalar>.stride)
        self.base = raw.bindMemory(to: Scalar.self, capacity: max(count, 1))
        self.count = count
        self.pool = pool
    }

    @usableFromInline
    func copy() -> TensorStorage {
        let copy = TensorStorage(uninitializedCount: count)
        copy.base.update(from: base, count: count)
        return copy
    }

    deinit {
        if let pool {
            pool.deallocate(UnsafeMutableRawPointer(base), byteCount: max(count, 1) * MemoryLayout<Scalar>.stride)
        } else {
            UnsafeMutableRawPointer(base).deallocate()
        }
    }
}

/// An n-dimensional array of `Float` or `Double`, stored contiguously in row-major order.
///
/// `Tensor` is a value type: copies share storage until one of them is written, and then the
/// writer copies (copy-on-write). A `Tensor` is `Sendable`.
///
/// ```swift
/// let a = Tensor<Float>(shape: [2, 3], scalars: [1, 2, 3, 4, 5, 6])
/// let b = Tensor<Float>.ones(shape: [3, 2])
/// let c = matmul(a, b)          // shape [2, 2]
/// ```
public struct Tensor<Scalar: TensorScalar>: Sendable {
    /// The size of each dimension, outermost first. A scalar tensor has shape `[]`.
    public let shape: [Int]
    @usableFromInline var storage: TensorStorage<Scalar>

    @usableFromInline
    init(shape: [Int], storage: TensorStorage<Scalar>) {
        self.shape = shape
        self.storage = storage
    }

    /// Creates a tensor of `shape` whose scalars `initializer` writes, in row-major order.
    ///
    /// The buffer starts uninitialized: `initializer` must write every element.
    @inlinable
    public init(
        unsafeUninitializedShape shape: [Int],
        initializingWith initializer: (UnsafeMutableBufferPointer<Scalar>) throws -> Void
    ) rethrows {
        let count = Misuse.checkShape("Tensor", shape, scalarByteCount: MemoryLayout<Scalar>.stride)
        let storage = TensorStorage<Scalar>(uninitializedCount: count)
        try initializer(UnsafeMutableBufferPointer(start: storage.base, count: storage.count))
        self.init(shape: shape, storage: storage)
    }

    /// A tensor whose scalars are not initialized, for a kernel that writes every element.
    @inlinable
    init(uninitializedShape shape: [Int]) {
        self.init(unsafeUninitializedShape: shape) { _ in }
    }

    /// Creates a tensor from `scalars` in row-major order.
    ///
    /// - Precondition: `scalars.count` equals the product of `shape`.
    @inlinable
    public init(shape: [Int], scalars: [Scalar]) {
        Misuse.checkCount("Tensor(shape:scalars:)", shape: shape, count: scalars.count)
        self.init(unsafeUninitializedShape: shape) { buffer in
            _ = buffer.initialize(from: scalars)
        }
    }

    /// Creates a rank-0 tensor holding `scalar`.
    @inlinable
    public init(_ scalar: Scalar) {
        self.init(shape: [], scalars: [scalar])
    }

    /// Creates a rank-1 tensor from `scalars`.
    @inlinable
    public init(_ scalars: [Scalar]) {
        self.init(shape: [scalars.count], scalars: scalars)
    }

    /// Creates a tensor of `shape` with every scalar set to `value`.
    @inlinable
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public init(repeating value: Scalar, shape: [Int]) {
        self.init(unsafeUninitializedShape: shape) { $0.initialize(repeating: value) }
    }

    /// The number of dimensions.
    @inlinable public var rank: Int { shape.count }

    /// The number of scalars: the product of ``shape``.
    @inlinable public var scalarCount: Int { storage.count }

    /// The scalars in row-major order.
    @inlinable public var scalars: [Scalar] {
        withUnsafeBufferPointer { Array($0) }
    }

    /// The single scalar of a tensor with one element.
    @inlinable public var scalar: Scalar {
        Misuse.check(scalarCount == 1, "scalar", "shape \(shape) holds \(scalarCount) scalars, not 1")
        return storage.base[0]
    }

    /// Calls `body` with the scalars in row-major order.
    @inlinable
    public func withUnsafeBufferPointer<R>(
        _ body: (UnsafeBufferPointer<Scalar>) throws -> R
    ) rethrows -> R {
        try withExtendedLifetime(storage) {
            try body(UnsafeBufferPointer(start: storage.base, count: storage.count))
        }
    }

    /// Calls `body` with the scalars for writing, copying the storage first if it is shared.
    @inlinable
    public mutating func withUnsafeMutableBufferPointer<R>(
        _ body: (UnsafeMutableBufferPointer<Scalar>) throws -> R
    ) rethrows -> R {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return try withExtendedLifetime(storage) {
            try body(UnsafeMutableBufferPointer(start: storage.base, count: storage.count))
        }
    }

    /// The scalars, for a kernel that takes many buffers at once: valid only while this
    /// tensor's storage lives, so call it where the tensor is used after the kernel returns
    /// (or inside `withExtendedLifetime`).
    var unsafeScalars: UnsafeBufferPointer<Scalar> { UnsafeBufferPointer(start: storage.base, count: storage.count) }

    /// The scalars for writing, after copying the storage if it is shared; valid as
    /// ``unsafeScalars`` is, until the tensor is copied.
    mutating func unsafeMutableScalars() -> UnsafeMutableBufferPointer<Scalar> {
        if !isKnownUniquelyReferenced(&storage) { storage = storage.copy() }
        return UnsafeMutableBufferPointer(start: storage.base, count: storage.count)
    }

    /// The row-major offset of `indices`, checked against ``shape``.
    @inlinable
    func offset(of indices: [Int]) -> Int {
        Misuse.check(
            indices.count == rank, "subscript",
            "\(indices.count) indices \(indices) for shape \(shape)")
        var offset = 0
        for (index, dimension) in zip(indices, shape) {
            Misuse.check(
                index >= 0 && index < dimension, "subscript",
                "index \(indices) is out of range for shape \(shape)")
            offset = offset * dimension + index
        }
        return offset
    }

    /// The scalar at `indices`, one index per dimension.
    @inlinable
    public subscript(indices: Int...) -> Scalar {
        get { withUnsafeBufferPointer { $0[offset(of: indices)] } }
        set {
            let offset = offset(of: indices)
            withUnsafeMutableBufferPointer { $0[offset] = newValue }
        }
    }
}

extension Tensor {
    /// The strides of a contiguous row-major tensor of `shape`, in elements.
    @inlinable
    static func contiguousStrides(_ shape: [Int]) -> [Int] {
        var strides = [Int](repeating: 1, count: shape.count)
        var stride = 1
        for axis in shape.indices.reversed() {
            strides[axis] = stride
            stride *= shape[axis]
        }
        return strides
    }
}
