/// Shape rules of 2-D pooling and of index-based gather and scatter, each stopping with a
/// message that names the op and every shape involved.
extension Misuse {
    /// Checks an `[N, C, H, W]` pooling input, its window and configuration (no dilation,
    /// padding at most half the window) and returns the geometry.
    @usableFromInline
    static func pooling2DGeometry(
        _ op: String, inputShape: [Int], kernelHeight: Int, kernelWidth: Int,
        configuration: Convolution2DConfiguration
    ) -> Convolution2DGeometry {
        func shapes() -> String {
            "input \(inputShape) and window [\(kernelHeight), \(kernelWidth)]"
        }
        let c = configuration
        check(inputShape.count == 4, op, "\(shapes()): input must have rank 4 [N, C, H, W]")
        check(
            c.dilationHeight == 1 && c.dilationWidth == 1, op,
            "\(shapes()) with \(c): pooling does not support dilation")
        check(
            2 * c.paddingHeight <= kernelHeight && 2 * c.paddingWidth <= kernelWidth, op,
            "\(shapes()) with \(c): padding must be at most half the window")
        return Convolution2DGeometry(
            batch: inputShape[0], channels: inputShape[1], height: inputShape[2],
            width: inputShape[3], kernelHeight: kernelHeight, kernelWidth: kernelWidth,
            configuration: c, operation: op, shapes: shapes())
    }

    /// Checks that a pooled tensor (or its gradient) is `[N, C, oh, ow]` for `geometry`.
    @usableFromInline
    static func checkPooledShape(_ op: String, _ shape: [Int], geometry g: Convolution2DGeometry) {
        let expected = [g.batch, g.channels, g.outputHeight, g.outputWidth]
        check(
            shape == expected, op,
            "pooled \(shape), input shape \(g.inputShape) and window [\(g.kernelHeight), "
                + "\(g.kernelWidth)] with \(g.configuration): pooled must be \(expected)")
    }

    /// Checks the buffer sizes of a pooling kernel against `geometry`.
    @usableFromInline
    static func checkPoolingBuffers(
        _ op: String, _ g: Convolution2DGeometry, input: Int, pooled: Int
    ) {
        let expected = g.batch * g.channels * g.outputHeight * g.outputWidth
        check(
            input == g.inputCount && pooled == expected, op,
            "input \(g.inputShape) and window [\(g.kernelHeight), \(g.kernelWidth)] with "
                + "\(g.configuration) need \(g.inputCount) input and \(expected) pooled scalars, "
                + "but the buffers have \(input) and \(pooled)")
    }

    /// Checks that `indices` has one entry per element of `shape` and that each is a valid
    /// row-major offset into `target`.
    @usableFromInline
    static func checkIndices(_ op: String, _ indices: [Int], shape: [Int], target: [Int]) {
        checkShape(op, shape)
        checkShape(op, target)
        let count = shape.reduce(1, *), bound = target.reduce(1, *)
        check(
            indices.count == count, op,
            "\(indices.count) indices for shape \(shape): need one per element (\(count))")
        if let bad = indices.first(where: { $0 < 0 || $0 >= bound }) {
            fail(op, "index \(bad) is out of range for shape \(target) (\(bound) elements)")
        }
    }
}
