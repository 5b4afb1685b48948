import CNablaKernels

// tanh, the logistic sigmoid, exp, erfc and exact GELU over buffers, eight `Float` lanes at a time.
//
// glibc's `tanhf` (through `expm1f`), `expf` and `erfcf` are scalar calls that keep a loop from
// vectorizing; they were a third of an LSTM's training time and a fifth of a Transformer's.
// exp and tanh are Cephes' `expf` and `tanhf` (Moshier, *Methods and Programs for Mathematical
// Functions*, 1989), erfc Numerical Recipes' `erfcc`, written for SIMD8<Float>. VectorMathTests
// measures them against libm in `Double` over the whole range: tanh, sigmoid and exp within 2
// ulp, erfc within 8, GELU within 8 (or 2x² ulp below x = −2, from rounding −x/√2 as `erfcf`'s
// callers do too) and its derivative within 3·10⁻⁷. NaN is kept, ±∞ give the limits, tanh and
// GELU keep −0. Every element, body or tail, goes through the same lanes, so a value's result
// does not depend on where it sits, nor on the threads (large buffers are split across the BLAS
// threads). `Double` keeps libm, on one thread. Above the portable level the same lanes run in
// C (CNablaKernels' VectorMath.c, 8 lanes at AVX2 and 16 at AVX-512, no FMA): the same bits.

extension ElementwiseKernels {
    /// `output[i] = exp(input[i])`, for `count` elements; `output` may be `input`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func exp<Scalar: TensorScalar>(
        _ input: UnsafePointer<Scalar>, into output: UnsafeMutablePointer<Scalar>, count: Int,
        level: SIMDLevel?
    ) {
        apply(input, output, count, VectorMath.Exp.self, level) { Scalar.exp($0) }
    }

    /// `output[i] = tanh(input[i])`, for `count` elements; `output` may be `input`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func tanh<Scalar: TensorScalar>(
        _ input: UnsafePointer<Scalar>, into output: UnsafeMutablePointer<Scalar>, count: Int,
        level: SIMDLevel?
    ) {
        apply(input, output, count, VectorMath.Tanh.self, level) { Scalar.tanh($0) }
    }

    /// `output[i] = 1 / (1 + exp(−input[i]))`, for `count` elements; `output` may be `input`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func sigmoid<Scalar: TensorScalar>(
        _ input: UnsafePointer<Scalar>, into output: UnsafeMutablePointer<Scalar>, count: Int,
        level: SIMDLevel?
    ) {
        apply(input, output, count, VectorMath.Sigmoid.self, level) { Scalar.sigmoid($0) }
    }

    /// Exact GELU, `x · erfc(−x/√2) / 2`, for `count` elements: `gelu(+∞) = +∞`, `gelu(−∞) = 0`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func gelu<Scalar: TensorScalar>(
        _ input: UnsafePointer<Scalar>, into output: UnsafeMutablePointer<Scalar>, count: Int,
        level: SIMDLevel?
    ) {
        apply(input, output, count, VectorMath.GELU.self, level) { Scalar.gelu($0, .none) }
    }

    /// The derivative of exact GELU, `Φ(x) + x · φ(x)`, for `count` elements: 1 at +∞, 0 at −∞.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func geluDerivative<Scalar: TensorScalar>(
        _ input: UnsafePointer<Scalar>, into output: UnsafeMutablePointer<Scalar>, count: Int,
        level: SIMDLevel?
    ) {
        apply(input, output, count, VectorMath.GELUDerivative.self, level) { Scalar.geluDerivative($0, .none) }
    }

    // The same, at the vector-math family's level, looked up now (Math.swift's tensor functions).
    static func exp<Scalar: TensorScalar>(_ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>, count: Int) {
        exp(x, into: y, count: count, level: nil)
    }
    static func tanh<Scalar: TensorScalar>(_ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>, count: Int) {
        tanh(x, into: y, count: count, level: nil)
    }
    static func sigmoid<Scalar: TensorScalar>(_ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>, count: Int) {
        sigmoid(x, into: y, count: count, level: nil)
    }
    static func gelu<Scalar: TensorScalar>(_ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>, count: Int) {
        gelu(x, into: y, count: count, level: nil)
    }
    static func geluDerivative<Scalar: TensorScalar>(
        _ x: UnsafePointer<Scalar>, into y: UnsafeMutablePointer<Scalar>, count: Int
    ) {
        geluDerivative(x, into: y, count: count, level: nil)
    }

    /// `Function` for `Float`, at `level` (by default ``KernelFamily/vectorMath``'s, looked up
    /// now: a caller that runs many small buffers looks it up once and passes it); `scalar`
    /// (libm) for `Double`, one thread. A type, not a closure, so that the lanes inline into the
    /// loop.
    @inline(__always)
    private static func apply<Scalar: TensorScalar, Function: LaneFunction>(
        _ input: UnsafePointer<Scalar>, _ output: UnsafeMutablePointer<Scalar>, _ count: Int,
        _ function: Function.Type, _ level: SIMDLevel?, scalar: (Scalar) -> Scalar
    ) {
        if Scalar.self == Float.self {
            floatLanes(input, output, count, Function.self, level ?? KernelFamily.vectorMath.levelForRun())
        } else {
            for i in 0..<count { output[i] = scalar(input[i]) }
        }
    }

    /// Runs `Function` over `count` values of a buffer of `Scalar == Float` at `level`, split
    /// across the BLAS threads when large: in C above ``SIMDLevel/portable``, else eight lanes
    /// at a time in Swift, the tail zero-padded.
    @inline(__always)
    private static func floatLanes<Scalar, Function: LaneFunction>(
        _ input: UnsafePointer<Scalar>, _ output: UnsafeMutablePointer<Scalar>, _ count: Int,
        _ function: Function.Type, _ level: SIMDLevel
    ) {
        let x = UnsafeRawPointer(input), y = UnsafeMutableRawPointer(output)
        let width = 8, stride = MemoryLayout<Float>.stride
        // Parts of whole 16-lane vectors, so that an AVX-512 part has no tail but the last.
        forEachPart(of: count, alignment: 16) { part in
            if level > .portable {
                Function.kernel(at: level)(
                    x.assumingMemoryBound(to: Float.self) + part.lowerBound,
                    y.assumingMemoryBound(to: Float.self) + part.lowerBound, Int64(part.count))
                return
            }
            var start = part.lowerBound
            while start + width <= part.upperBound {
                let v = x.loadUnaligned(fromByteOffset: start * stride, as: SIMD8<Float>.self)
                y.storeBytes(of: Function.lanes(v), toByteOffset: start * stride, as: SIMD8<Float>.self)
                start += width
            }
            guard start < part.upperBound else { return }
            var tail = SIMD8<Float>()
            for i in start..<part.upperBound { tail[i - start] = x.load(fromByteOffset: i * stride, as: Float.self) }
            let result = Function.lanes(tail)
            for i in start..<part.upperBound {
                y.storeBytes(of: result[i - start], toByteOffset: i * stride, as: Float.self)
            }
        }
    }

    /// Calls `body` with ranges that cover `0..<count` once each, on `BLAS.threadCount` threads
    /// (at most one per block) when `count` is at least `parallelFrom` (the BLAS threads are idle
    /// between products).
    /// Every range but the last starts and ends at a multiple of `alignment`, so that the same
    /// elements share a vector however the work is split.
    static func forEachPart(
        of count: Int, alignment: Int, parallelFrom minimum: Int = 1 << 16, _ body: (Range<Int>) -> Void
    ) {
        let blocks = (count + alignment - 1) / alignment
        let parts = count >= minimum ? Swift.max(1, Swift.min(BLAS.threadCount, blocks)) : 1
        guard parts > 1 else {
            body(0..<count)
            return
        }
        WorkerPool.run(parts: parts) { part in
            let range = Swift.min(count, blocks * part / parts * alignment)
                ..< Swift.min(count, blocks * (part + 1) / parts * alignment)
            if !range.isEmpty { body(range) }
        }
    }
}

/// A C kernel over a `Float` buffer: input, output (which may be the input), count.
typealias FloatBufferKernel = @convention(c) (UnsafePointer<Float>?, UnsafeMutablePointer<Float>?, Int64) -> Void

/// A function of eight `Float` lanes, and the same function over buffers in C.
protocol LaneFunction {
    static func lanes(_ x: SIMD8<Float>) -> SIMD8<Float>
    /// The CNablaKernels function at `level` (above ``SIMDLevel/portable``): the same bits.
    static func kernel(at level: SIMDLevel) -> FloatBufferKernel
}

/// The lane-wise functions behind ``ElementwiseKernels``' `exp`, `tanh`, `sigmoid` and `gelu`.
enum VectorMath {
    typealias Lanes = SIMD8<Float>

    enum Exp: LaneFunction {
        static func lanes(_ x: Lanes) -> Lanes { exp(x) }
        static func kernel(at level: SIMDLevel) -> FloatBufferKernel {
            level == .avx2 ? nabla_exp_f32_avx2 : nabla_exp_f32_avx512
        }
    }
    enum Tanh: LaneFunction {
        static func lanes(_ x: Lanes) -> Lanes { tanh(x) }
        static func kernel(at level: SIMDLevel) -> FloatBufferKernel {
            level == .avx2 ? nabla_tanh_f32_avx2 : nabla_tanh_f32_avx512
        }
    }
    enum Sigmoid: LaneFunction {
        static func lanes(_ x: Lanes) -> Lanes { sigmoid(x) }
        static func kernel(at level: SIMDLevel) -> FloatBufferKernel {
            level == .avx2 ? nabla_sigmoid_f32_avx2 : nabla_sigmoid_f32_avx512
        }
    }
    enum ERFC: LaneFunction {
        static func lanes(_ x: Lanes) -> Lanes { erfc(x) }
        static func kernel(at level: SIMDLevel) -> FloatBufferKernel {
            level == .avx2 ? nabla_erfc_f32_avx2 : nabla_erfc_f32_avx512
        }
    }
    enum GELU: LaneFunction {
        static func lanes(_ x: Lanes) -> Lanes { gelu(x) }
        static func kernel(at level: SIMDLevel) -> FloatBufferKernel {
            level == .avx2 ? nabla_gelu_f32_avx2 : nabla_gelu_f32_avx512
        }
    }
    enum GELUDerivative: LaneFunction {
        static func lanes(_ x: Lanes) -> Lanes { geluDerivative(x) }
        static func kernel(at level: SIMDLevel) -> FloatBufferKernel {
            level == .avx2 ? nabla_gelu_derivative_f32_avx2 : nabla_gelu_derivative_f32_avx512
        }
    }

    /// `|x|`, by clearing the sign bit.
    @inline(__always)
    static func magnitude(_ x: Lanes) -> Lanes {
        unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: Lanes.self)
    }

    /// `eˣ`: finite up to x = 88.72283, `+∞` above, 0 below −104 (eˣ rounds to 0 below
    /// ln 2⁻¹⁵⁰ ≈ −103.9721), NaN kept. The result is subnormal where eˣ is.
    ///
    /// Arithmetic that produces a subnormal takes a slow microcode path on x86 (in a causal
    /// softmax, half of whose scores are −∞, one instruction after it held a third of the
    /// samples). So lanes below −87.33, where eˣ leaves the normal range, are clamped and then
    /// set to 0, and only when some lane lies in [−104, −87.33) (or needs 2¹²⁸) does the
    /// exponent go on in two factors. A normal result is `y · 2ⁿ` exactly either way, so a
    /// lane's bits never depend on its neighbours.
    @inline(__always)
    static func exp(_ x: Lanes) -> Lanes {
        // Two factors for a subnormal result, or for 2¹²⁸ (n = 128 above 88.3762).
        // (Not −103.97: eˣ rounds up to 2⁻¹⁴⁹ down to −103.9721, so a lane there would depend on
        // its neighbours, and 8-lane and 16-lane vectors would differ.)
        let twoFactors = any(((x .< -87.33) .& (x .>= -104)) .| ((x .> 88.3762) .& (x .<= 88.72283)))
        let lowest: Float = twoFactors ? -104 : -87.33
        var clamped = x.replacing(with: lowest, where: x .< lowest)
        clamped.replace(with: 88.72283, where: clamped .> 88.72283)
        // x = n·ln 2 + r, |r| ≤ ½ ln 2, ln 2 in two parts so that n·ln 2 is exact in the first;
        // adding 1.5·2²³ rounds to the nearest n and leaves n in the low bits.
        let shifted = clamped * 1.44269504088896341 + 12_582_912
        let n = shifted - 12_582_912
        let r = clamped - n * 0.693359375 + n * 2.12194440e-4
        let r2 = r * r
        var p: Lanes = 1.9875691500e-4 * r + 1.3981999507e-3
        p = p * r + 8.3334519073e-3
        p = p * r + 4.1665795894e-2
        p = p * r + 1.6666665459e-1
        p = p * r + 5.0000001201e-1
        let y = p * r2 + r + 1
        let exponent = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
        var result: Lanes
        if !twoFactors {
            result = y * unsafeBitCast((exponent &+ 127) &<< 23, to: Lanes.self)
            result.replace(with: 0, where: x .< -87.33)
        } else {
            // 2ⁿ as two factors, each a normal float for n in [−150, 128].
            let half = exponent &>> 1
            let first = unsafeBitCast((half &+ 127) &<< 23, to: Lanes.self)
            let second = unsafeBitCast((exponent &- half &+ 127) &<< 23, to: Lanes.self)
            result = y * first * second
        }
        result.replace(with: .infinity, where: x .> 88.72283)
        result.replace(with: x, where: x .!= x)
        return result
    }

    /// `tanh(x)`: an odd polynomial for `|x| ≤ 0.625`, `1 − 2 / (e^{2|x|} + 1)` with x's sign above.
    @inline(__always)
    static func tanh(_ x: Lanes) -> Lanes {
        let z = x * x
        var p: Lanes = -5.70498872745e-3 * z + 2.06390887954e-2
        p = p * z - 5.37397155531e-2
        p = p * z + 1.33314422036e-1
        p = p * z - 3.33332819422e-1
        var small = p * z * x + x  // NaN stays NaN here
        small.replace(with: x, where: x .== 0)  // −0 stays −0
        let a = magnitude(x)
        // tanh(9) rounds to 1 in Float; clamping keeps e^{2|x|} finite, and tanh(±∞) = ±1.
        let e = exp(2 * a.replacing(with: 9, where: a .> 9))
        let large = 1 - 2 / (e + 1)
        let sign = unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x8000_0000
        let signedLarge = unsafeBitCast(unsafeBitCast(large, to: SIMD8<UInt32>.self) | sign, to: Lanes.self)
        return small.replacing(with: signedLarge, where: a .> 0.625)
    }

    /// `1 / (1 + e⁻ˣ)`, as `1 / (1 + e^{−|x|})` for x ≥ 0 and `e^{−|x|} / (1 + e^{−|x|})` below,
    /// so nothing overflows and tiny results keep their relative accuracy.
    @inline(__always)
    static func sigmoid(_ x: Lanes) -> Lanes {
        let e = exp(-magnitude(x))
        let numerator = Lanes(repeating: 1).replacing(with: e, where: x .< 0)
        return numerator / (1 + e)
    }

    /// `erfc(x)`, as Numerical Recipes' `erfcc` (a Chebyshev fit with relative error below
    /// 1.2·10⁻⁷): `t·e^{−z² + P(t)}` with `z = |x|`, `t = 1/(1 + z/2)`, and `2 − erfc(z)` for
    /// negative x. `e^{−z²}` is split as `e^{−zₕ²}·e^{−(z − zₕ)(z + zₕ)}`, where zₕ keeps 12
    /// significant bits so that zₕ² is exact (Cephes' trick), which keeps the relative accuracy
    /// of tiny results.
    @inline(__always)
    static func erfc(_ x: Lanes) -> Lanes {
        var z = magnitude(x)
        z.replace(with: 10.5, where: z .> 10.5)  // erfc(10.5) underflows to 0 in Float
        let t = 1 / (1 + 0.5 * z)
        var p: Lanes = 0.17087277 * t - 0.82215223
        p = p * t + 1.48851587
        p = p * t - 1.13520398
        p = p * t + 0.27886807
        p = p * t - 0.18628806
        p = p * t + 0.09678418
        p = p * t + 0.37409196
        p = p * t + 1.00002368
        p = p * t - 1.26551223
        let zh = unsafeBitCast(unsafeBitCast(z, to: SIMD8<UInt32>.self) & 0xFFFF_F000, to: Lanes.self)
        let positive = t * exp(-zh * zh) * exp(p - (z - zh) * (z + zh))
        var result = positive.replacing(with: 2 - positive, where: x .< 0)
        result.replace(with: x, where: x .!= x)
        return result
    }

    /// Exact GELU, `x · erfc(−x/√2) / 2`, with `gelu(−∞) = 0` (not `−∞ · 0`).
    @inline(__always)
    static func gelu(_ x: Lanes) -> Lanes {
        var y = x * (erfc(x * -0.70710678118654752440) * 0.5)
        y.replace(with: 0, where: x .== -.infinity)
        return y
    }

    /// `Φ(x) + x · φ(x)`, with its limits 1 at +∞ and 0 at −∞.
    @inline(__always)
    static func geluDerivative(_ x: Lanes) -> Lanes {
        let cdf = erfc(x * -0.70710678118654752440) * 0.5
        var d = cdf + x * exp(x * x * -0.5) * 0.39894228040143267794
        d.replace(with: 1, where: x .== .infinity)
        d.replace(with: 0, where: x .== -.infinity)
        return d
    }
}
