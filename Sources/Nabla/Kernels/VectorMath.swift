// tanh, the logistic sigmoid and exp over buffers, eight `Float` lanes at a time.
//
// glibc's `tanhf` (through `expm1f`) and `expf` are scalar calls that keep a loop from
// vectorizing; they were a third of an LSTM's training time. These are Cephes' `expf` and
// `tanhf` (Moshier, *Methods and Programs for Mathematical Functions*, 1989) written for
// SIMD8<Float>: within 2 ulp of the correctly rounded value (VectorMathTests measures it), with
// NaN kept, ±∞ exact, and −0 kept by tanh. Every element, body or tail, goes through the same
// lanes, so a value's result does not depend on where it sits. `Double` keeps libm.

extension ElementwiseKernels {
    /// `output[i] = tanh(input[i])`, for `count` elements; `output` may be `input`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func tanh<Scalar: TensorScalar>(
        _ input: UnsafePointer<Scalar>, into output: UnsafeMutablePointer<Scalar>, count: Int
    ) {
        if Scalar.self == Float.self {
            floatLanes(input, output, count, VectorMath.tanh)
        } else {
            for i in 0..<count { output[i] = Scalar.tanh(input[i]) }
        }
    }

    /// `output[i] = 1 / (1 + exp(−input[i]))`, for `count` elements; `output` may be `input`.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    static func sigmoid<Scalar: TensorScalar>(
        _ input: UnsafePointer<Scalar>, into output: UnsafeMutablePointer<Scalar>, count: Int
    ) {
        if Scalar.self == Float.self {
            floatLanes(input, output, count, VectorMath.sigmoid)
        } else {
            for i in 0..<count { output[i] = Scalar.sigmoid(input[i]) }
        }
    }

    /// Runs `lanes` over `count` values of a buffer of `Scalar == Float`, the tail zero-padded.
    @inline(__always)
    private static func floatLanes<Scalar>(
        _ input: UnsafePointer<Scalar>, _ output: UnsafeMutablePointer<Scalar>, _ count: Int,
        _ lanes: (SIMD8<Float>) -> SIMD8<Float>
    ) {
        let x = UnsafeRawPointer(input), y = UnsafeMutableRawPointer(output)
        let width = 8, stride = MemoryLayout<Float>.stride
        var start = 0
        while start + width <= count {
            let v = x.loadUnaligned(fromByteOffset: start * stride, as: SIMD8<Float>.self)
            y.storeBytes(of: lanes(v), toByteOffset: start * stride, as: SIMD8<Float>.self)
            start += width
        }
        guard start < count else { return }
        var tail = SIMD8<Float>()
        for i in start..<count { tail[i - start] = x.load(fromByteOffset: i * stride, as: Float.self) }
        let result = lanes(tail)
        for i in start..<count { y.storeBytes(of: result[i - start], toByteOffset: i * stride, as: Float.self) }
    }
}

/// The lane-wise functions behind ``ElementwiseKernels``' `tanh` and `sigmoid`.
enum VectorMath {
    typealias Lanes = SIMD8<Float>

    /// `|x|`, by clearing the sign bit.
    @inline(__always)
    static func magnitude(_ x: Lanes) -> Lanes {
        unsafeBitCast(unsafeBitCast(x, to: SIMD8<UInt32>.self) & 0x7FFF_FFFF, to: Lanes.self)
    }

    /// `eˣ` for `x ≤ 88.72` (where it is finite); `+∞` above, 0 below −103.97, NaN kept. The result
    /// is subnormal where eˣ is.
    @inline(__always)
    static func exp(_ x: Lanes) -> Lanes {
        var clamped = x.replacing(with: -104, where: x .< -104)
        clamped.replace(with: 88.72, where: clamped .> 88.72)
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
        // 2ⁿ as two factors, each a normal float for n in [−150, 128].
        let exponent = unsafeBitCast(shifted, to: SIMD8<Int32>.self) &- 0x4B40_0000
        let half = exponent &>> 1
        let first = unsafeBitCast((half &+ 127) &<< 23, to: Lanes.self)
        let second = unsafeBitCast((exponent &- half &+ 127) &<< 23, to: Lanes.self)
        var result = y * first * second
        result.replace(with: .infinity, where: x .> 88.72)
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
}
