/// Shape rules of 2-D pooling and of index-based gather and scatter, each stopping with a
/// message that names the op and every shape involved.
extension Misuse {
    /// Checks an `[N, C, H, W]` pooling input against its window (padding at most half of it)
    /// and returns the geometry.
    @usableFromInline
    static func pooling2DGeometry(
        _ op: String, inputShape: [Int], configuration c: Pooling2DConfiguration
    ) -> Convolution2DGeometry {
        func shapes() -> String {
            "input \(inputShape) with \(c)"
        }
        check(inputShape.count == 4, op, "\(shapes()): input must have rank 4 [N, C, H, W]")
        check(
            2 * c.paddingHeight <= c.kernelHeight && 2 * c.paddingWidth <= c.kernelWidth, op,
            "\(shapes()): padding must be at most half the window")
        return Convolution2DGeometry(
            batch: inputShape[0], channels: inputShape[1], height: inputShape[2],
            width: inputShape[3], kernelHeight: c.kernelHeight, kernelWidth: c.kernelWidth,
            configuration: c.convolution, operation: op, shapes: shapes())
    }

    /// Checks that a pooled tensor (or its gradient) is `[N, C, oh, ow]` for `geometry`.
    @usableFromInline
    static func checkPooledShape(_ op: String, _ shape: [Int], geometry g: Convolution2DGeometry) {
        let expected = [g.batch, g.channels, g.outputHeight, g.outputWidth]
        check(
            shape == expected, op,
            "pooled \(shape) and input \(g.inputShape) with \(poolingDescription(g)): pooled "
                + "must be \(expected)")
    }

    /// Checks the buffer sizes of a pooling kernel against `geometry`.
    @usableFromInline
    static func checkPoolingBuffers(
        _ op: String, _ g: Convolution2DGeometry, input: Int, pooled: Int
    ) {
        let expected = g.batch * g.channels * g.outputHeight * g.outputWidth
        check(
            input == g.inputCount && pooled == expected, op,
            "input \(g.inputShape) with \(poolingDescription(g)) needs \(g.inputCount) input and "
                + "\(expected) pooled scalars, but the buffers have \(input) and \(pooled)")
    }

    /// The pooling window of `g`, as ``Pooling2DConfiguration`` describes it.
    @usableFromInline
    static func poolingDescription(_ g: Convolution2DGeometry) -> String {
        let c = g.configuration
        return Pooling2DConfiguration(
            kernelHeight: g.kernelHeight, kernelWidth: g.kernelWidth, strideHeight: c.strideHeight,
            strideWidth: c.strideWidth, paddingHeight: c.paddingHeight, paddingWidth: c.paddingWidth
        ).description
    }

    /// Checks that every index of `rows` is a row of `table` (its first axis) and returns the
    /// size of a row.
    @usableFromInline
    static func checkRows(_ op: String, _ rows: [Int], table: [Int]) -> Int {
        check(!table.isEmpty, op, "table \(table) has no rows: it is a scalar")
        if let bad = rows.first(where: { $0 < 0 || $0 >= table[0] }) {
            fail(op, "row \(bad) is out of range for table \(table) (\(table[0]) rows)")
        }
        return table.dropFirst().reduce(1, *)
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
