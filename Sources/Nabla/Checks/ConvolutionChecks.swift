/// Shape rules of the tensor-level convolutions.
extension Misuse {
    /// Checks an `[N, C, H, W]` input against an `[O, C, kh, kw]` filter and returns the geometry.
    @usableFromInline
    static func convolutionGeometry(
        _ op: String, _ shapes: @autoclosure () -> String, input: [Int], filter: [Int],
        configuration: Convolution2DConfiguration, groups: Int = 1
    ) -> Convolution2DGeometry {
        check(input.count == 4, op, "\(shapes()): input must have rank 4 [N, C, H, W]")
        check(filter.count == 4, op, "\(shapes()): filter must have rank 4 [O, C / groups, kh, kw]")
        check(groups >= 1, op, "\(shapes()): groups \(groups) must be positive")
        check(
            input[1] == filter[1] * groups, op,
            groups == 1
                ? "\(shapes()): input has \(input[1]) channels, filter expects \(filter[1])"
                : "\(shapes()): input has \(input[1]) channels, filter expects \(filter[1]) per group × \(groups) groups")
        check(filter[0] >= 1, op, "\(shapes()): filter must have at least 1 output channel")
        check(
            filter[0] % groups == 0, op,
            "\(shapes()): \(filter[0]) output channels do not split into \(groups) groups")
        return Convolution2DGeometry(
            batch: input[0], channels: input[1], height: input[2], width: input[3],
            kernelHeight: filter[2], kernelWidth: filter[3], configuration: configuration,
            operation: op, shapes: shapes())
    }

    /// Checks that an output gradient is `[N, O, oh, ow]`.
    @usableFromInline
    static func checkOutputGradient(
        _ op: String, _ shapes: @autoclosure () -> String, _ shape: [Int],
        geometry: Convolution2DGeometry,
        outputChannels: Int
    ) {
        let expected = [
            geometry.batch, outputChannels, geometry.outputHeight, geometry.outputWidth,
        ]
        check(
            shape == expected, op,
            "\(shapes()) with \(geometry.configuration): output gradient must be \(expected)")
    }

    /// Checks the buffers of a Winograd convolution or filter gradient: a filter of `C·3·3`
    /// scalars per output channel, an `[N, C, H, W]` input and an `[N, O, oh, ow]` output (or
    /// output gradient). Returns `O`.
    @usableFromInline
    static func checkWinogradBuffers(
        _ op: String, _ geometry: Convolution2DGeometry, filter: (name: String, count: Int),
        input: Int, output: (name: String, count: Int), inputGeometry: Convolution2DGeometry? = nil,
        depthToSpaceTarget: Convolution2DGeometry? = nil
    ) -> Int {
        let window = geometry.channels * geometry.kernelHeight * geometry.kernelWidth
        let outputChannels = window > 0 ? filter.count / window : 0
        check(
            filter.count == outputChannels * window && outputChannels >= 1, op,
            "\(filter.name) buffer has \(filter.count) scalars, not a positive multiple of "
                + "C·\(geometry.kernelHeight)·\(geometry.kernelWidth) = \(window)")
        let inputGeometry = inputGeometry ?? geometry
        check(
            input == inputGeometry.inputCount, op,
            "input \(inputGeometry.inputShape) needs \(inputGeometry.inputCount) scalars, but its buffer has \(input)")
        var outputCount = geometry.batch * outputChannels * geometry.outputHeight * geometry.outputWidth
        if let target = depthToSpaceTarget {
            check(
                outputChannels == 4 * target.channels, op,
                "\(outputChannels) output channels are not 4 × the \(target.channels) channels of the depth-to-space target")
            outputCount = target.inputCount
        }
        check(
            output.count == outputCount, op,
            "\(output.name) needs \(outputCount) scalars, but its buffer has \(output.count)")
        return outputChannels
    }

    /// Checks that a Winograd output can be stored through depth-to-space into the input of the
    /// stride-2 4×4 convolution `target`: by F(4×4, 2×2) (`tile` 4, `kernel` 2), and with every
    /// pixel of that input a pixel of the reduced `[N, 4C, oh + 1, ow + 1]` output (`covered`).
    @usableFromInline
    static func checkDepthToSpaceTarget(
        _ op: String, _ target: Convolution2DGeometry, covered: Bool, tile: Int, kernel: Int
    ) {
        let c = target.configuration
        check(
            tile == 4 && kernel == 2 && covered, op,
            "depth-to-space into input \(target.inputShape) with padding \(c.paddingHeight)×\(c.paddingWidth) "
                + "needs F(4×4, 2×2) (this is F(\(tile)×\(tile), \(kernel)×\(kernel))) and every pixel in the "
                + "reduced \(target.outputHeight + 1)×\(target.outputWidth + 1) output")
    }

    /// Checks that a kernel's workspace holds at least `needs` scalars.
    @usableFromInline
    static func checkWorkspace(_ op: String, _ count: Int, needs: Int) {
        check(count >= needs, op, "workspace has \(count) scalars, needs \(needs)")
    }

    /// The geometry and output channel count of a filter gradient, after checking that the
    /// input, filter shape and output gradient fit together.
    @usableFromInline
    static func filterGradientGeometry(
        outputGradient: [Int], input: [Int], filterShape: [Int],
        configuration: Convolution2DConfiguration, groups: Int = 1
    ) -> (Convolution2DGeometry, Int) {
        let op = "conv2dBackwardFilter"
        // Built only when a check fails.
        func shapes() -> String { "output gradient \(outputGradient), input \(input) and filter shape \(filterShape)" }
        let geometry = convolutionGeometry(
            op, shapes(), input: input, filter: filterShape, configuration: configuration, groups: groups)
        checkOutputGradient(op, shapes(), outputGradient, geometry: geometry, outputChannels: filterShape[0])
        return (geometry, filterShape[0])
    }
}

/// Shape rules of the transposed convolution.
extension Misuse {
    /// Checks a transposed convolution's configuration: positive channels, kernel sizes, strides
    /// and dilations, paddings not negative, and each output padding in `0..<stride`.
    static func checkTransposedConvolution(
        _ layer: String, inputChannels: Int, outputChannels: Int, kernel: (height: Int, width: Int),
        configuration c: Convolution2DConfiguration, outputPadding: (height: Int, width: Int), groups: Int = 1
    ) {
        func shapes() -> String {
            "channels \(inputChannels) → \(outputChannels), kernel \(kernel.height)×\(kernel.width), \(c), "
                + "output padding \(outputPadding.height)×\(outputPadding.width)" + (groups == 1 ? "" : ", groups \(groups)")
        }
        check(
            groups > 0 && inputChannels % groups == 0 && outputChannels % groups == 0, layer,
            "\(shapes()): \(groups) groups must divide both channel counts")
        check(
            inputChannels > 0 && outputChannels > 0 && kernel.height > 0 && kernel.width > 0, layer,
            "\(shapes()): channels and kernel sizes must be positive")
        check(
            c.strideHeight > 0 && c.strideWidth > 0 && c.dilationHeight > 0 && c.dilationWidth > 0
                && c.paddingHeight >= 0 && c.paddingWidth >= 0, layer,
            "\(shapes()): strides and dilations must be positive, paddings not negative")
        check(
            (0..<c.strideHeight).contains(outputPadding.height) && (0..<c.strideWidth).contains(outputPadding.width),
            layer, "\(shapes()): each output padding must be at least 0 and smaller than its stride")
    }

    /// The output padding that makes a transposed convolution of an input `height × width`
    /// produce `outputSize`, checked to be in `0..<stride` (PyTorch's `output_size` argument).
    static func transposedConvolutionOutputPadding(
        _ layer: String, input: [Int], outputSize: (height: Int, width: Int),
        smallest: (height: Int, width: Int), configuration c: Convolution2DConfiguration
    ) -> (height: Int, width: Int) {
        let padding = (height: outputSize.height - smallest.height, width: outputSize.width - smallest.width)
        check(
            (0..<c.strideHeight).contains(padding.height) && (0..<c.strideWidth).contains(padding.width), layer,
            "input \(input) with \(c): output size \(outputSize.height)×\(outputSize.width) is out of reach: "
                + "the sizes it can give are \(smallest.height)...\(smallest.height + c.strideHeight - 1) × "
                + "\(smallest.width)...\(smallest.width + c.strideWidth - 1)")
        return padding
    }
}
