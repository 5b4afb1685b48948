/// The window of 2-D pooling and how it moves: kernel size, stride (the kernel size unless
/// given) and zero padding, each for the height and width dimensions.
///
/// ```swift
/// let pooled = maxPool2d(x, configuration: .init(kernelSize: 2))   // stride 2, padding 0
/// ```
///
/// Padding must be at most half the window; the values are checked against an input when the
/// pooling runs.
public struct Pooling2DConfiguration: Hashable, Sendable, CustomStringConvertible {
    public var kernelHeight: Int
    public var kernelWidth: Int
    public var strideHeight: Int
    public var strideWidth: Int
    public var paddingHeight: Int
    public var paddingWidth: Int

    /// A square window; `stride` defaults to `kernelSize`, as in PyTorch.
    public init(kernelSize: Int, stride: Int? = nil, padding: Int = 0) {
        self.init(
            kernelHeight: kernelSize, kernelWidth: kernelSize, strideHeight: stride ?? kernelSize,
            strideWidth: stride ?? kernelSize, paddingHeight: padding, paddingWidth: padding)
    }

    /// Separate values per dimension; strides default to the window's size.
    public init(
        kernelHeight: Int, kernelWidth: Int, strideHeight: Int? = nil, strideWidth: Int? = nil,
        paddingHeight: Int = 0, paddingWidth: Int = 0
    ) {
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.strideHeight = strideHeight ?? kernelHeight
        self.strideWidth = strideWidth ?? kernelWidth
        self.paddingHeight = paddingHeight
        self.paddingWidth = paddingWidth
    }

    /// For example `kernel 3×3, stride 2×2, padding 1×1` (height × width).
    public var description: String {
        "kernel \(kernelHeight)×\(kernelWidth), stride \(strideHeight)×\(strideWidth), "
            + "padding \(paddingHeight)×\(paddingWidth)"
    }

    /// The same window movement as a convolution configuration, for the shared geometry.
    @usableFromInline var convolution: Convolution2DConfiguration {
        .init(
            strideHeight: strideHeight, strideWidth: strideWidth, paddingHeight: paddingHeight,
            paddingWidth: paddingWidth, dilationHeight: 1, dilationWidth: 1)
    }
}
