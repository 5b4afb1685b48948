/// How a layer draws its initial weights, from the fan-in and fan-out of the weight.
public enum WeightInitialization: Sendable {
    /// He (Kaiming) normal, `N(0, 2 / fanIn)`: for layers followed by ReLU.
    case he
    /// Xavier (Glorot) uniform, `U(±√(6 / (fanIn + fanOut)))`: for other activations.
    case xavier
    /// PyTorch's default for `Linear` and `Conv2d`, `U(±1/√fanIn)` (Kaiming uniform with a = √5).
    case pyTorchDefault

    /// A tensor of `shape` drawn from this distribution.
    func sample<Scalar: TensorScalar>(
        shape: [Int], fanIn: Int, fanOut: Int, using generator: inout SeededGenerator
    ) -> Tensor<Scalar> {
        switch self {
        case .he:
            return Tensor.randomNormal(
                shape: shape, mean: 0, standardDeviation: Scalar.sqrt(2 / Scalar(fanIn)),
                using: &generator)
        case .xavier:
            let bound = Scalar.sqrt(6 / Scalar(fanIn + fanOut))
            return Tensor.randomUniform(shape: shape, in: -bound..<bound, using: &generator)
        case .pyTorchDefault:
            let bound = 1 / Scalar.sqrt(Scalar(fanIn))
            return Tensor.randomUniform(shape: shape, in: -bound..<bound, using: &generator)
        }
    }
}

/// A scheme that fills a weight, by name, as `torch.nn.init` does: the same distributions, fan
/// rules and gains.
///
/// Fans follow PyTorch's `_calculate_fan_in_and_fan_out`: for a weight of shape
/// `[d₀, d₁, k…]`, fan-in is `d₁ · ∏k` and fan-out `d₀ · ∏k`, so a convolution's receptive field
/// counts, and a transposed convolution's `[in, out, kh, kw]` weight gets PyTorch's fans too. The
/// schemes that need fans ask for at least two axes.
public enum Initializer: Sendable, Hashable {
    /// Every element `value` (`zeros_`, `ones_`, `constant_`).
    case constant(Double)
    /// `U(lower, upper)`.
    case uniform(lower: Double, upper: Double)
    /// `N(mean, standardDeviation²)`; DCGAN's weights are `.normal(mean: 0, standardDeviation: 0.02)`.
    case normal(mean: Double, standardDeviation: Double)
    /// Xavier (Glorot) uniform: `U(±gain · √(6 / (fanIn + fanOut)))`.
    case xavierUniform(gain: Double)
    /// Xavier (Glorot) normal: `N(0, gain² · 2 / (fanIn + fanOut))`.
    case xavierNormal(gain: Double)
    /// Kaiming (He) uniform: `U(±√3 · gain / √fan)`, the gain of `nonlinearity`; PyTorch's
    /// default layers use `.kaimingUniform(mode: .fanIn, nonlinearity: .leakyReLU(slope: √5))`.
    case kaimingUniform(mode: FanMode, nonlinearity: Nonlinearity)
    /// Kaiming (He) normal: `N(0, gain² / fan)`.
    case kaimingNormal(mode: FanMode, nonlinearity: Nonlinearity)
    /// A (semi-)orthogonal matrix times `gain`, from the QR factorization of a standard normal one,
    /// over the weight flattened to `[d₀, ∏ rest]`.
    case orthogonal(gain: Double)

    /// Which fan a Kaiming scheme keeps the variance of.
    public enum FanMode: Sendable, Hashable {
        /// The forward pass's activations (`fan_in`).
        case fanIn
        /// The backward pass's gradients (`fan_out`).
        case fanOut
    }

    /// The nonlinearity a gain is for, as PyTorch's `calculate_gain`.
    public enum Nonlinearity: Sendable, Hashable {
        /// Linear layers, convolutions and sigmoid: gain 1.
        case linear
        /// Gain 5/3.
        case tanh
        /// Gain √2.
        case relu
        /// Gain `√(2 / (1 + slope²))`.
        case leakyReLU(slope: Double)
        /// Gain 3/4.
        case selu

        /// The recommended gain.
        public var gain: Double {
            switch self {
            case .linear: 1
            case .tanh: 5.0 / 3
            case .relu: 2.0.squareRoot()
            case .leakyReLU(let slope): (2 / (1 + slope * slope)).squareRoot()
            case .selu: 0.75
            }
        }
    }

    /// `(fanIn, fanOut)` of a weight of `shape`, PyTorch's rule; a misuse for fewer than 2 axes.
    public static func fans(of shape: [Int]) -> (fanIn: Int, fanOut: Int) {
        Misuse.check(
            shape.count >= 2, "Initializer",
            "weight \(shape): fans need at least 2 axes (PyTorch's rule), as in [out, in, …]")
        let receptiveField = shape.dropFirst(2).reduce(1, *)
        return (shape[1] * receptiveField, shape[0] * receptiveField)
    }

    /// A tensor of `shape` drawn from this scheme.
    public func tensor<Scalar: TensorScalar>(
        shape: [Int], using generator: inout SeededGenerator
    ) -> Tensor<Scalar> {
        func normal(_ mean: Double, _ deviation: Double) -> Tensor<Scalar> {
            Tensor.randomNormal(shape: shape, mean: Scalar(mean), standardDeviation: Scalar(deviation), using: &generator)
        }
        func uniform(_ bound: Double) -> Tensor<Scalar> {
            Tensor.randomUniform(shape: shape, in: Scalar(-bound)..<Scalar(bound), using: &generator)
        }
        func kaimingDeviation(_ mode: FanMode, _ nonlinearity: Nonlinearity) -> Double {
            let (fanIn, fanOut) = Self.fans(of: shape)
            return nonlinearity.gain / Double(mode == .fanIn ? fanIn : fanOut).squareRoot()
        }
        switch self {
        case .constant(let value):
            return Tensor(repeating: Scalar(value), shape: shape)
        case .uniform(let lower, let upper):
            Misuse.check(lower < upper, "Initializer", "uniform: lower \(lower) must be below upper \(upper)")
            return Tensor.randomUniform(shape: shape, in: Scalar(lower)..<Scalar(upper), using: &generator)
        case .normal(let mean, let deviation):
            Misuse.check(deviation >= 0, "Initializer", "normal: standard deviation \(deviation) is negative")
            return normal(mean, deviation)
        case .xavierUniform(let gain):
            let (fanIn, fanOut) = Self.fans(of: shape)
            return uniform(gain * (6 / Double(fanIn + fanOut)).squareRoot())
        case .xavierNormal(let gain):
            let (fanIn, fanOut) = Self.fans(of: shape)
            return normal(0, gain * (2 / Double(fanIn + fanOut)).squareRoot())
        case .kaimingUniform(let mode, let nonlinearity):
            return uniform(3.0.squareRoot() * kaimingDeviation(mode, nonlinearity))
        case .kaimingNormal(let mode, let nonlinearity):
            return normal(0, kaimingDeviation(mode, nonlinearity))
        case .orthogonal(let gain):
            Misuse.check(shape.count >= 2, "Initializer", "orthogonal: weight \(shape) needs at least 2 axes")
            let rows = shape[0], columns = shape.dropFirst().reduce(1, *)
            // QR of the taller orientation: its q has orthonormal columns.
            let tall = rows >= columns
            let drawn = Tensor<Scalar>.randomNormal(shape: tall ? [rows, columns] : [columns, rows], using: &generator)
            guard let (q, r) = try? LinearAlgebra.qr(drawn) else {
                Misuse.fail("Initializer", "orthogonal: the QR factorization of a random \(drawn.shape) matrix failed")
            }
            // Columns signed by r's diagonal, so that q is uniformly (Haar) distributed.
            let width = min(rows, columns)
            let signs = (0..<width).map { (index: Int) -> Scalar in r[index, index] < 0 ? -Scalar(gain) : Scalar(gain) }
            let signed = q * Tensor(shape: [1, width], scalars: signs)
            return (tall ? signed : signed.transposed(permutation: [1, 0])).reshaped(to: shape)
        }
    }
}

extension Parameter {
    /// Refills the value from `initializer`, keeping its shape.
    public func initialize(_ initializer: Initializer, using generator: inout SeededGenerator) {
        value = initializer.tensor(shape: value.shape, using: &generator)
    }
}

extension Layer {
    /// Calls `body` on every layer inside this one, depth first, and then on this one, as
    /// PyTorch's `Module.apply`: for example to draw every convolution's weight from DCGAN's
    /// `N(0, 0.02²)`.
    public func apply(_ body: (Layer<Scalar>) throws -> Void) rethrows {
        for layer in sublayers { try layer.apply(body) }
        try body(self)
    }
}
