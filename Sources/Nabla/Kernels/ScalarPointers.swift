/// `pointer` as a pointer to `T`, the scalar type it already holds: for a generic `S` that the
/// caller has found to be `Float` or `Double`, to call the C kernels' typed entry points.
@inlinable @inline(__always)
func cast<S, T>(_ pointer: UnsafePointer<S>, _: T.Type) -> UnsafePointer<T> {
    UnsafeRawPointer(pointer).assumingMemoryBound(to: T.self)
}

/// `pointer` as a mutable pointer to `T`, the scalar type it already holds.
@inlinable @inline(__always)
func cast<S, T>(_ pointer: UnsafeMutablePointer<S>, _: T.Type) -> UnsafeMutablePointer<T> {
    UnsafeMutableRawPointer(pointer).assumingMemoryBound(to: T.self)
}
