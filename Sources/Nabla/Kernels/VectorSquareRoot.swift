#if arch(x86_64)
import _Builtin_intrinsics.intel
#endif

extension ElementwiseKernels {
    /// The lane-wise square roots of `v`, correctly rounded as `squareRoot()` is.
    ///
    /// On Linux, Swift's scalar `squareRoot()` keeps C's `errno` behaviour (a `sqrtss` with a
    /// call to `sqrtf` for negative input), and `SIMD8.squareRoot()` is eight of those, so a loop
    /// that takes square roots never vectorizes. On x86-64 this uses `sqrtps`/`sqrtpd`, which
    /// every x86-64 CPU has; elsewhere it falls back to the lane-wise root.
    @inlinable @inline(__always)
    static func squareRoots<Scalar: TensorScalar>(_ v: SIMD8<Scalar>) -> SIMD8<Scalar> {
        #if arch(x86_64)
        if Scalar.self == Float.self {
            let x = unsafeBitCast(v, to: SIMD8<Float>.self)
            let root = SIMD8<Float>(lowHalf: _mm_sqrt_ps(x.lowHalf), highHalf: _mm_sqrt_ps(x.highHalf))
            return unsafeBitCast(root, to: SIMD8<Scalar>.self)
        }
        if Scalar.self == Double.self {
            let x = unsafeBitCast(v, to: SIMD8<Double>.self)
            let low = SIMD4<Double>(lowHalf: _mm_sqrt_pd(x.lowHalf.lowHalf), highHalf: _mm_sqrt_pd(x.lowHalf.highHalf))
            let high = SIMD4<Double>(lowHalf: _mm_sqrt_pd(x.highHalf.lowHalf), highHalf: _mm_sqrt_pd(x.highHalf.highHalf))
            return unsafeBitCast(SIMD8<Double>(lowHalf: low, highHalf: high), to: SIMD8<Scalar>.self)
        }
        #endif
        return v.squareRoot()
    }
}
