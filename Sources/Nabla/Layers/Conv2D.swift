/// A 2-D convolution over NCHW input. Both backward paths run the same kernels, which
/// ``ConvolutionAlgorithm`` picks pass by pass: the few-channel path for the first layer,
/// Winograd F(4×4, 3×3) for 3×3 stride-1 layers with 16 or more channels, and im2col + GEMM
/// (col2im for the input gradient) otherwise.
///
/// Shapes: the input is `[N, inputChannels, H, W]` and the output `[N, outputChannels, oh, ow]`,
/// sizes as in ``conv2d(_:filter:configuration:groups:)``. The weight is `[outputChannels,
/// inputChannels / groups, kh, kw]` and the bias `[outputChannels]`, PyTorch's `Conv2d` layout.
///
/// With `groups` > 1 the channels split into that many groups, each convolved with its own
/// filters; `groups = inputChannels` is a depthwise convolution, which runs on its own direct loops.
public final class Conv2D<Scalar: TensorScalar>: Layer<Scalar> {
    public let inputChannels: Int
    public let outputChannels: Int
    public let kernelHeight: Int
    public let kernelWidth: Int
    public let configuration: Convolution2DConfiguration
    /// The channel groups, which divide both channel counts.
    public let groups: Int
    /// `[outputChannels, inputChannels / groups, kh, kw]`.
    public let weight: Parameter<Scalar>
    /// `[outputChannels]`, or `nil` without bias.
    public let bias: Parameter<Scalar>?
    private var cachedInput: Tensor<Scalar>?

    /// Creates a layer with a square kernel; weights drawn by `initialization` (fan-in
    /// `inputChannels·kh·kw`), bias zero.
    public convenience init(
        inputChannels: Int, outputChannels: Int, kernelSize: Int, stride: Int = 1,
        padding: Int = 0, dilation: Int = 1, groups: Int = 1, bias: Bool = true,
        initialization: WeightInitialization = .xavier, using generator: inout SeededGenerator
    ) {
        self.init(
            inputChannels: inputChannels, outputChannels: outputChannels, kernelHeight: kernelSize,
            kernelWidth: kernelSize,
            configuration: .init(stride: stride, padding: padding, dilation: dilation), groups: groups, bias: bias,
            initialization: initialization, using: &generator)
    }

    /// Creates a layer with a `kernelHeight × kernelWidth` kernel and separate strides, paddings
    /// and dilations per dimension.
    public init(
        inputChannels: Int, outputChannels: Int, kernelHeight: Int, kernelWidth: Int,
        configuration: Convolution2DConfiguration, groups: Int = 1, bias: Bool = true,
        initialization: WeightInitialization = .xavier, using generator: inout SeededGenerator
    ) {
        let c = configuration
        let shapes = "channels \(inputChannels) → \(outputChannels), kernel \(kernelHeight)×\(kernelWidth), \(c)"
        Misuse.check(
            inputChannels > 0 && outputChannels > 0 && kernelHeight > 0 && kernelWidth > 0, "Conv2D",
            "\(shapes): channels and kernel sizes must be positive")
        Misuse.check(
            c.strideHeight > 0 && c.strideWidth > 0 && c.dilationHeight > 0 && c.dilationWidth > 0
                && c.paddingHeight >= 0 && c.paddingWidth >= 0, "Conv2D",
            "\(shapes): strides and dilations must be positive, paddings not negative")
        Misuse.check(
            groups > 0 && inputChannels % groups == 0 && outputChannels % groups == 0, "Conv2D",
            "\(shapes): \(groups) groups must divide both channel counts")
        self.groups = groups
        self.inputChannels = inputChannels
        self.outputChannels = outputChannels
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.configuration = configuration
        let fanIn = inputChannels / groups * kernelHeight * kernelWidth
        self.weight = Parameter(
            name: "weight",
            value: initialization.sample(
                shape: [outputChannels, inputChannels / groups, kernelHeight, kernelWidth], fanIn: fanIn,
                fanOut: outputChannels * kernelHeight * kernelWidth, using: &generator))
        self.bias = bias ? Parameter(name: "bias", value: .zeros(shape: [outputChannels])) : nil
    }

    public override var parameters: [Parameter<Scalar>] { [weight] + (bias.map { [$0] } ?? []) }

    public override var description: String {
        "Conv2D(\(inputChannels) → \(outputChannels), kernel \(kernelHeight)×\(kernelWidth), "
            + "\(configuration), \(groups > 1 ? "groups: \(groups), " : "")bias: \(bias != nil))"
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func callAsFunction(_ input: Variable<Scalar>) -> Variable<Scalar> {
        _ = checkedOutputShape(input.shape)
        return TensorOperations.conv2d(
            input, filter: weight.variable, bias: bias?.variable, configuration: configuration, groups: groups)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualForward(_ input: Tensor<Scalar>) -> Tensor<Scalar> {
        _ = checkedOutputShape(input.shape)
        cachedInput = input
        return conv2dAddingBias(
            input, filter: weight.value, bias: bias?.value, configuration: configuration, groups: groups)
    }

    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public override func manualBackward(_ outputGradient: Tensor<Scalar>) -> Tensor<Scalar>? {
        guard let input = cachedInput else { Misuse.fail("\(self)", "backward called before forward") }
        let gradients = conv2dBackwardFilterAndBias(
            outputGradient, input: input, filterShape: weight.value.shape,
            configuration: configuration, groups: groups, computesBiasGradient: bias != nil)
        weight.accumulate(gradients.filter)
        if let bias, let gradient = gradients.bias { bias.accumulate(gradient) }
        guard computesInputGradient else { return nil }
        return conv2dBackwardInput(
            outputGradient, filter: weight.value, inputShape: input.shape,
            configuration: configuration, groups: groups)
    }

    /// `[N, outputChannels, oh, ow]`, for an input with the channels and a padded size that
    /// holds the dilated kernel.
    public override func outputShape(forInput shape: [Int]) throws(LayerShapeError) -> [Int] {
        guard shape.count == 4, shape[1] == inputChannels, shape[2] > 0, shape[3] > 0 else {
            throw LayerShapeError("expected [batch, \(inputChannels), height, width]")
        }
        let c = configuration
        let extent = (c.dilationHeight * (kernelHeight - 1) + 1, c.dilationWidth * (kernelWidth - 1) + 1)
        let padded = (shape[2] + 2 * c.paddingHeight, shape[3] + 2 * c.paddingWidth)
        guard extent.0 <= padded.0, extent.1 <= padded.1 else {
            throw LayerShapeError(
                "the dilated kernel \(extent.0)×\(extent.1) does not fit the padded input "
                    + "\(padded.0)×\(padded.1)")
        }
        return [shape[0], outputChannels, (padded.0 - extent.0) / c.strideHeight + 1,
                (padded.1 - extent.1) / c.strideWidth + 1]
    }
}
