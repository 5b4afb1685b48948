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
