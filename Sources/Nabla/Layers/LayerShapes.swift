/// The shape checks layers share, with messages that name the layer and the shapes.
enum LayerShapes {
    /// At construction: positive sizes and strides, padding at most half the window.
    static func checkPooling(_ c: Pooling2DConfiguration, _ layer: String) {
        Misuse.check(
            c.kernelHeight > 0 && c.kernelWidth > 0 && c.strideHeight > 0 && c.strideWidth > 0,
            layer, "\(c): kernel sizes and strides must be positive")
        Misuse.check(
            c.paddingHeight >= 0 && c.paddingWidth >= 0 && 2 * c.paddingHeight <= c.kernelHeight
                && 2 * c.paddingWidth <= c.kernelWidth,
            layer, "\(c): padding must be between 0 and half the window")
    }

    /// `shape` itself, if it ends with `normalizedShape` (LayerNorm's and RMSNorm's rule).
    static func endingWith(_ normalizedShape: [Int], _ shape: [Int]) throws(LayerShapeError) -> [Int] {
        guard shape.count >= normalizedShape.count && Array(shape.suffix(normalizedShape.count)) == normalizedShape else {
            throw LayerShapeError(
                "expected […, \(normalizedShape.map(String.init).joined(separator: ", "))] "
                    + "(any leading axes, then \(normalizedShape))")
        }
        return shape
    }

    /// The pooled shape of an `[N, C, H, W]` input whose padded size holds the window.
    static func pooledShape(_ shape: [Int], _ c: Pooling2DConfiguration) throws(LayerShapeError) -> [Int] {
        try checkNCHW(shape)
        let (height, width) = (shape[2] + 2 * c.paddingHeight, shape[3] + 2 * c.paddingWidth)
        guard c.kernelHeight <= height, c.kernelWidth <= width else {
            throw LayerShapeError(
                "the \(c.kernelHeight)×\(c.kernelWidth) window is larger than the padded input "
                    + "\(height)×\(width)")
        }
        return [shape[0], shape[1], (height - c.kernelHeight) / c.strideHeight + 1,
                (width - c.kernelWidth) / c.strideWidth + 1]
    }

    /// An `[N, C, H, W]` input with positive channels, height and width.
    static func checkNCHW(_ shape: [Int]) throws(LayerShapeError) {
        guard shape.count == 4 else { throw LayerShapeError("expected [batch, channels, height, width]") }
        guard shape[1] > 0, shape[2] > 0, shape[3] > 0 else {
            throw LayerShapeError("channels, height and width must be positive")
        }
    }

    /// In backward: the output gradient has the last output's shape.
    static func checkGradient(
        _ shape: [Int], output: [Int], _ layer: some CustomStringConvertible
    ) {
        Misuse.check(
            shape == output, "\(layer)",
            "output gradient \(shape) for output \(output): shapes differ")
    }

    /// What an activation's backward reads, checked: it exists (a forward came first) and has
    /// the output gradient's shape.
    static func cached<Scalar>(
        _ tensor: Tensor<Scalar>?, _ layer: some CustomStringConvertible, _ outputGradient: Tensor<Scalar>
    ) -> Tensor<Scalar> {
        guard let tensor else { Misuse.fail("\(layer)", "backward called before forward") }
        checkGradient(outputGradient.shape, output: tensor.shape, layer)
        return tensor
    }
}
