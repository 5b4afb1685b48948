/// Shape rules of the tensor-level convolutions.
extension Misuse {
    /// Checks an `[N, C, H, W]` input against an `[O, C, kh, kw]` filter and returns the geometry.
    @usableFromInline
    static func convolutionGeometry(
        _ op: String, _ shapes: @autoclosure () -> String, input: [Int], filter: [Int],
        configuration: Convolution2DConfiguration
    ) -> Convolution2DGeometry {
        check(input.count == 4, op, "\(shapes()): input must have rank 4 [N, C, H, W]")
        check(filter.count == 4, op, "\(shapes()): filter must have rank 4 [O, C, kh, kw]")
        check(
            input[1] == filter[1], op,
            "\(shapes()): input has \(input[1]) channels, filter expects \(filter[1])")
        check(filter[0] >= 1, op, "\(shapes()): filter must have at least 1 output channel")
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
        input: Int, output: (name: String, count: Int)
    ) -> Int {
        let window = geometry.channels * 9
        let outputChannels = filter.count / window
        check(
            filter.count == outputChannels * window && outputChannels >= 1, op,
            "\(filter.name) buffer has \(filter.count) scalars, not a positive multiple of C·3·3 = \(window)")
        check(
            input == geometry.inputCount, op,
            "input \(geometry.inputShape) needs \(geometry.inputCount) scalars, but its buffer has \(input)")
        let outputCount = geometry.batch * outputChannels * geometry.outputHeight * geometry.outputWidth
        check(
            output.count == outputCount, op,
            "\(output.name) needs \(outputCount) scalars, but its buffer has \(output.count)")
        return outputChannels
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
        configuration: Convolution2DConfiguration
    ) -> (Convolution2DGeometry, Int) {
        let op = "conv2dBackwardFilter"
        // Built only when a check fails.
        func shapes() -> String { "output gradient \(outputGradient), input \(input) and filter shape \(filterShape)" }
        let geometry = convolutionGeometry(
            op, shapes(), input: input, filter: filterShape, configuration: configuration)
        checkOutputGradient(op, shapes(), outputGradient, geometry: geometry, outputChannels: filterShape[0])
        return (geometry, filterShape[0])
    }
}
