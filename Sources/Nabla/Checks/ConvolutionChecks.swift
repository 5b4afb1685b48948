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
}
