import RealModule

/// A seedable, portable pseudo-random generator (xoshiro256**, seeded through SplitMix64).
///
/// The same seed gives the same sequence on every machine, and Nabla turns its bits into
/// scalars with its own arithmetic, so seeded tensors are reproducible too.
public struct SeededGenerator: RandomNumberGenerator, Sendable {
    private var state: (UInt64, UInt64, UInt64, UInt64)

    /// Creates a generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) {
        var splitMix = seed
        func next() -> UInt64 {
            splitMix &+= 0x9E37_79B9_7F4A_7C15
            var z = splitMix
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        state = (next(), next(), next(), next())
    }

    public mutating func next() -> UInt64 {
        let result = rotate(state.1 &* 5, 7) &* 9
        let t = state.1 << 17
        state.2 ^= state.0
        state.3 ^= state.1
        state.1 ^= state.2
        state.0 ^= state.3
        state.2 ^= t
        state.3 = rotate(state.3, 45)
        return result
    }

    private func rotate(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }
}

extension TensorScalar {
    /// A uniform value in [0, 1) from the top bits of `bits`: as many as the significand holds.
    @inlinable
    static func unitInterval(_ bits: UInt64) -> Self {
        let precision = Self.significandBitCount + 1
        return Self(bits >> UInt64(64 - precision)) * Self(sign: .plus, exponent: Exponent(-precision), significand: 1)
    }
}

extension Tensor {
    /// A tensor of `shape` with scalars drawn uniformly from `range` (upper bound excluded).
    public static func randomUniform<G: RandomNumberGenerator>(
        shape: [Int], in range: Range<Scalar> = 0..<1, using generator: inout G
    ) -> Tensor {
        Tensor(unsafeUninitializedShape: shape) { buffer in
            let width = range.upperBound - range.lowerBound
            for i in buffer.indices {
                buffer[i] = range.lowerBound + width * Scalar.unitInterval(generator.next())
            }
        }
    }

    /// A dropout mask of `shape`: 1 where an element is kept, 0 where it is dropped. Element `i`
    /// is kept when the `i`-th uniform draw in [0, 1), in `Double`, is at least `probability`, so
    /// `Float` and `Double` masks from the same generator state agree.
    static func dropoutMask<G: RandomNumberGenerator>(
        shape: [Int], probability: Double, using generator: inout G
    ) -> Tensor {
        Tensor(unsafeUninitializedShape: shape) { mask in
            for i in mask.indices {
                mask[i] = Double.unitInterval(generator.next()) >= probability ? 1 : 0
            }
        }
    }

    /// A tensor of `shape` with normally distributed scalars (Box–Muller, computed in `Double`).
    public static func randomNormal<G: RandomNumberGenerator>(
        shape: [Int], mean: Scalar = 0, standardDeviation: Scalar = 1, using generator: inout G
    ) -> Tensor {
        Tensor(unsafeUninitializedShape: shape) { buffer in
            var i = 0
            while i < buffer.count {
                // 1 − u keeps the logarithm's argument in (0, 1].
                let u1 = 1 - Double.unitInterval(generator.next())
                let u2 = Double.unitInterval(generator.next())
                let radius = (-2 * Double.log(u1)).squareRoot()
                let angle = 2 * Double.pi * u2
                buffer[i] = mean + standardDeviation * Scalar(radius * Double.cos(angle))
                if i + 1 < buffer.count {
                    buffer[i + 1] = mean + standardDeviation * Scalar(radius * Double.sin(angle))
                }
                i += 2
            }
        }
    }
}
