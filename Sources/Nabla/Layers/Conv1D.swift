/// A 1-D convolution over `[N, C, L]` sequences, as PyTorch's `nn.Conv1d`: a 2-D convolution of
/// height 1, on the same kernels and the same algorithm choice (``ConvolutionAlgorithm``).
///
/// Shapes: the input is `[N, inputChannels, L]` and the output `[N, outputChannels, oL]` with
/// `oL = (L + 2·padding − dilation·(kernelSize − 1) − 1) / stride + 1`. The weight is
/// `[outputChannels, inputChannels / groups, kernelSize]` and the bias `[outputChannels]`,
/// PyTorch's names and layout, both drawn from `U(±1/√fanIn)` as PyTorch's default,
/// `fanIn = inputChannels / groups · kernelSize`.
public final class Conv1D<Scalar: TensorScalar>: Layer<Scalar> {
    public let inputChannels: Int
    public let outputChannels: Int
    public let kernelSize: Int
    public let stride: Int
    public let padding: Int
    public let dilation: Int
    /// The channel groups, which divide both channel counts.
    public let groups: Int
    /// `[outputChannels, inputChannels / groups, kernelSize]`.
    public let weight: Parameter<Scalar>
    /// `[outputChannels]`, or `nil` without bias.
    public let bias: Parameter<Scalar>?
    private var cachedInput: Tensor<Scalar>?

    /// Creates a layer with PyTorch's default initialization.
    ///
    /// - Parameters:
    ///   - inputChannels: the input's channels, `C`.
    ///   - outputChannels: the output's channels.
    ///   - kernelSize: the kernel's length.
    ///   - stride: the step between neighboring windows.
    ///   - padding: the zeros added at each end.
    ///   - dilation: the spacing between kernel taps.
    ///   - groups: the channel groups, which divide both channel counts (`inputChannels` for a
    ///     depthwise convolution).
    ///   - bias: whether the layer adds a bias per output channel.
    ///   - generator: the source of the initial weights.
    public init(
        inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1, padding: Int = 0,
        dilation: Int = 1, groups: Int = 1, bias: Bool = true, using generator: inout SeededGenerator
    ) {
        let shapes = "channels \(inputChannels) → \(outputChannels), kernel \(kernelSize), stride \(stride), "
            + "padding \(padding), dilation \(dilation), groups \(groups)"
        Misuse.check(
            inputChannels > 0 && outputChannels > 0 && kernelSize > 0 && stride > 0 && dilation > 0 && padding >= 0,
            "Conv1D", "\(shapes): sizes, stride and dilation must be positive, padding not negative")
        Misuse.check(
            groups > 0 && inputChannels % groups == 0 && outputChannels % groups == 0, "Conv1D",
            "\(shapes): \(groups) groups must divide both channel counts")
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.kernelSize = kernelSize
        self.stride = stride
        self.padding = padding
        self.dilation = dilation
        self.groups = groups
        let bound = 1 / Double(inputChannels / groups * kernelSize).squareRoot()
        weight = Parameter(
            name: "weight",
            value: Initializer.uniform(lower: -bound, upper: bound)
                .tensor(shape: [outputChannels, inputChannels / groups, kernelSize], using: &generator))
        self.bias = bias
            ? Parameter(name: "bias", value: Initializer.uniform(lower: -bound, upper: bound).tensor(shape: [outputChannels], using: &generator))
            : nil
    }

    public override var parameters: [Parameter<Scalar>] { [weight] + (bias.map { [$0] } ?? []) }

    public override var description: String {
        "Conv1D(\(inputChannels) → \(outputChannels), kernel \(kernelSize), stride \(stride), padding \(padding), "
            + "dilation \(dilation)\(groups > 1 ? ", groups: \(groups)" : ""), bias: \(bias != nil))"
    }

    /// The 2-D configuration of height 1 this layer runs.
    private var configuration: Convolution2DConfiguration {
        .init(strideHeight: 1, strideWidth: stride, paddingHeight: 0, paddingWidth: padding, dilationHeight: 1, dilationWidth: dilation)
    }

    /// `[O, C / groups, 1, kernelSize]`.
    private var filterShape: [Int] { [outputChannels, inputChannels / groups, 1, kernelSize] }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        typealias Ops = TensorOperations<Scalar>
        let output = checkedOutputShape(input.shape)
        let result = Ops.conv2d(
            Ops.reshape(input, to: [input.shape[0], inputChannels, 1, input.shape[2]]),
            filter: Ops.reshape(weight.variable, to: filterShape), bias: bias?.variable,
            configuration: configuration, groups: groups)
        return Ops.reshape(result, to: output)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        let output = checkedOutputShape(input.shape)
        cachedInput = input
        return conv2dAddingBias(
            input.reshaped(to: [input.shape[0], inputChannels, 1, input.shape[2]]),
            filter: weight.value.reshaped(to: filterShape), bias: bias?.value, configuration: configuration,
            groups: groups
        ).reshaped(to: output)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard let input = cachedInput else { Misuse.fail("\(self)", "backward called before forward") }
        LayerShapes.checkGradient(outputGradient.shape, output: try! outputShape(forInput: input.shape), self)
        let image = [input.shape[0], inputChannels, 1, input.shape[2]]
        let gradient = outputGradient.reshaped(to: [outputGradient.shape[0], outputChannels, 1, outputGradient.shape[2]])
        let gradients = conv2dBackwardFilterAndBias(
            gradient, input: input.reshaped(to: image), filterShape: filterShape, configuration: configuration,
            groups: groups, computesBiasGradient: bias != nil)
        weight.accumulate(gradients.filter.reshaped(to: weight.value.shape))
        if let bias, let biasGradient = gradients.bias { bias.accumulate(biasGradient) }
        guard computesInputGradient else { return nil }
        return conv2dBackwardInput(
            gradient, filter: weight.value.reshaped(to: filterShape), inputShape: image, configuration: configuration,
            groups: groups
        ).reshaped(to: input.shape)
    }

    /// `[N, outputChannels, oL]`, for an input with the channels and a padded length that holds
    /// the dilated kernel.
    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        guard shape.count == 3, shape[1] == inputChannels, shape[2] > 0 else {
            throw LayerShapeError("expected [batch, \(inputChannels), length]")
        }
        let extent = dilation * (kernelSize - 1) + 1, padded = shape[2] + 2 * padding
        guard extent <= padded else {
            throw LayerShapeError("the dilated kernel \(extent) does not fit the padded input \(padded)")
        }
        return [shape[0], outputChannels, (padded - extent) / stride + 1]
    }
}
