/// A fully connected layer: `y = x·Wᵀ + b`.
///
/// Shapes: the input is `[…, inputSize]` (any number of leading axes, flattened into rows), the
/// output `[…, outputSize]`. The weight is `[outputSize, inputSize]` and the bias `[outputSize]`,
/// PyTorch's `Linear` layout, so its weights load unchanged. Every product is one GEMM with
/// transpose flags: `y = x·Wᵀ`, `dW += gᵀ·x`, `dx = g·W`.
public final class Dense<Scalar: TensorScalar>: Layer<Scalar> {
    public let inputSize: Int
    public let outputSize: Int
    /// `[outputSize, inputSize]`.
    public let weight: Parameter<Scalar>
    /// `[outputSize]`, or `nil` without bias.
    public let bias: Parameter<Scalar>?
    private var cachedInput: Tensor<Scalar>?

    /// Creates a layer with weights drawn by `initialization` (fan-in `inputSize`) and a zero bias.
    public init(
        inputSize: Int, outputSize: Int, bias: Bool = true,
        initialization: WeightInitialization = .xavier, using generator: inout SeededGenerator
    ) {
        Misuse.check(
            inputSize > 0 && outputSize > 0, "Dense",
            "sizes \(inputSize) → \(outputSize) must be positive")
        self.inputSize = inputSize
        self.outputSize = outputSize
        self.weight = Parameter(
            name: "weight",
            value: initialization.sample(
                shape: [outputSize, inputSize], fanIn: inputSize, fanOut: outputSize,
                using: &generator))
        self.bias = bias ? Parameter(name: "bias", value: .zeros(shape: [outputSize])) : nil
    }

    public override var parameters: [Parameter<Scalar>] { [weight] + (bias.map { [$0] } ?? []) }

    public override var description: String {
        "Dense(\(inputSize) → \(outputSize), bias: \(bias != nil))"
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        _ = checkedOutputShape(input.shape)
        let product = TensorOperations.matmul(input, weight.variable, transposeRHS: true)
        return bias.map { product + $0.variable } ?? product
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        _ = checkedOutputShape(input.shape)
        cachedInput = input
        return linear(input, weight: weight.value, bias: bias?.value)  // x·Wᵀ + b, one GEMM
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard let input = cachedInput else { Misuse.fail("Dense", "backward called before forward") }
        Misuse.check(
            outputGradient.shape == input.shape.dropLast() + [outputSize], "Dense",
            "output gradient \(outputGradient.shape) for input \(input.shape): expected "
                + "\(input.shape.dropLast() + [outputSize])")
        let rows = input.scalarCount / inputSize
        let g = outputGradient.reshaped(to: [rows, outputSize]), x = input.reshaped(to: [rows, inputSize])
        weight.accumulateGradient { $0.addMatrixProduct(g, x, transposeLHS: true) }  // dW += gᵀ·x
        bias?.accumulate(g.sum(alongAxes: [0]))
        guard computesInputGradient else { return nil }
        return matmul(outputGradient, weight.value)  // dx = g·W
    }

    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        guard shape.count >= 2, shape.last == inputSize else {
            throw LayerShapeError("expected [batch, \(inputSize)] (any leading axes, then \(inputSize))")
        }
        return shape.dropLast() + [outputSize]
    }
}
