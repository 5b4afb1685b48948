// The configuration and geometry of a 2-D convolution: the values its checks take, declared on
// the ground floor so that Checks/ depends on nothing above it.

/// How a 2-D convolution window moves over its input: stride, zero padding and dilation, each
/// given separately for the height and width dimensions.
///
/// The values are checked when they are combined with an input in ``Convolution2DGeometry``:
/// strides and dilations must be positive and paddings non-negative.
public struct Convolution2DConfiguration: Hashable, Sendable, CustomStringConvertible {
    /// The step between neighboring windows, in input rows.
    public var strideHeight: Int
    /// The step between neighboring windows, in input columns.
    public var strideWidth: Int
    /// The number of zero rows added above and below the input.
    public var paddingHeight: Int
    /// The number of zero columns added left and right of the input.
    public var paddingWidth: Int
    /// The spacing between kernel taps, in input rows (1 means adjacent rows).
    public var dilationHeight: Int
    /// The spacing between kernel taps, in input columns (1 means adjacent columns).
    public var dilationWidth: Int

    /// Creates a configuration with the same stride, padding and dilation in both dimensions.
    public init(stride: Int = 1, padding: Int = 0, dilation: Int = 1) {
        self.init(
            strideHeight: stride, strideWidth: stride,
            paddingHeight: padding, paddingWidth: padding,
            dilationHeight: dilation, dilationWidth: dilation)
    }

    /// Creates a configuration with separate values for the height and width dimensions.
    public init(
        strideHeight: Int, strideWidth: Int,
        paddingHeight: Int, paddingWidth: Int,
        dilationHeight: Int, dilationWidth: Int
    ) {
        self.strideHeight = strideHeight
        self.strideWidth = strideWidth
        self.paddingHeight = paddingHeight
        self.paddingWidth = paddingWidth
        self.dilationHeight = dilationHeight
        self.dilationWidth = dilationWidth
    }

    /// For example `stride 2×1, padding 1×0, dilation 1×1` (height × width).
    public var description: String {
        "stride \(strideHeight)×\(strideWidth), padding \(paddingHeight)×\(paddingWidth), "
            + "dilation \(dilationHeight)×\(dilationWidth)"
    }
}

/// The sizes of a 2-D convolution over an NCHW input: the input, the kernel window and the
/// ``Convolution2DConfiguration``, from which the output size and the shape of the im2col matrix
/// follow.
///
/// The input is `[batch, channels, height, width]` and the kernel window `[kernelHeight,
/// kernelWidth]`. The output is `[batch, ·, outputHeight, outputWidth]`, and the im2col matrix
/// is `[columnRows, columnCount]` = `[channels·kernelHeight·kernelWidth,
/// batch·outputHeight·outputWidth]`.
public struct Convolution2DGeometry: Hashable, Sendable {
    /// The number of images, `N`.
    public let batch: Int
    /// The number of input channels, `C`.
    public let channels: Int
    /// The input height, `H`, before padding.
    public let height: Int
    /// The input width, `W`, before padding.
    public let width: Int
    /// The kernel window height, `kh`.
    public let kernelHeight: Int
    /// The kernel window width, `kw`.
    public let kernelWidth: Int
    /// Stride, padding and dilation.
    public let configuration: Convolution2DConfiguration

    /// Creates the geometry of a convolution over a `[batch, channels, height, width]` input
    /// with a `[kernelHeight, kernelWidth]` window.
    ///
    /// - Precondition: `batch ≥ 0`; channels, sizes, strides and dilations are positive;
    ///   paddings are non-negative; and the dilated kernel fits in the padded input, so the
    ///   output is at least 1 × 1.
    public init(
        batch: Int, channels: Int, height: Int, width: Int,
        kernelHeight: Int, kernelWidth: Int,
        configuration: Convolution2DConfiguration = .init()
    ) {
        self.init(
            batch: batch, channels: channels, height: height, width: width,
            kernelHeight: kernelHeight, kernelWidth: kernelWidth, configuration: configuration,
            operation: "conv2d",
            shapes: "input [\(batch), \(channels), \(height), \(width)] and kernel "
                + "[\(kernelHeight), \(kernelWidth)]")
    }

    /// The validating initializer; misuse messages read `operation: shapes: problem`.
    @usableFromInline
    init(
        batch: Int, channels: Int, height: Int, width: Int,
        kernelHeight: Int, kernelWidth: Int, configuration: Convolution2DConfiguration,
        operation: String, shapes: @autoclosure () -> String
    ) {
        let c = configuration
        func check(_ condition: Bool, _ problem: @autoclosure () -> String) {
            Misuse.check(condition, operation, "\(shapes()): \(problem())")
        }
        check(batch >= 0, "batch size \(batch) is negative")
        check(
            channels >= 1 && height >= 1 && width >= 1,
            "channels, height and width must be positive")
        check(kernelHeight >= 1 && kernelWidth >= 1, "kernel sizes must be positive")
        check(c.strideHeight >= 1 && c.strideWidth >= 1, "\(c): strides must be positive")
        check(c.dilationHeight >= 1 && c.dilationWidth >= 1, "\(c): dilations must be positive")
        check(c.paddingHeight >= 0 && c.paddingWidth >= 0, "\(c): paddings must not be negative")
        let extentHeight = c.dilationHeight * (kernelHeight - 1) + 1
        let extentWidth = c.dilationWidth * (kernelWidth - 1) + 1
        check(
            extentHeight <= height + 2 * c.paddingHeight
                && extentWidth <= width + 2 * c.paddingWidth,
            "\(c): the dilated kernel \(extentHeight)×\(extentWidth) does not fit the padded "
                + "input \(height + 2 * c.paddingHeight)×\(width + 2 * c.paddingWidth), so the "
                + "output would be empty")
        self.batch = batch
        self.channels = channels
        self.height = height
        self.width = width
        self.kernelHeight = kernelHeight
        self.kernelWidth = kernelWidth
        self.configuration = configuration
    }

    /// `(H + 2·paddingHeight − dilationHeight·(kh − 1) − 1) / strideHeight + 1`.
    @inlinable public var outputHeight: Int {
        let c = configuration
        return (height + 2 * c.paddingHeight - c.dilationHeight * (kernelHeight - 1) - 1)
            / c.strideHeight + 1
    }

    /// `(W + 2·paddingWidth − dilationWidth·(kw − 1) − 1) / strideWidth + 1`.
    @inlinable public var outputWidth: Int {
        let c = configuration
        return (width + 2 * c.paddingWidth - c.dilationWidth * (kernelWidth - 1) - 1)
            / c.strideWidth + 1
    }

    /// The rows of the im2col matrix: `channels · kernelHeight · kernelWidth`.
    @inlinable public var columnRows: Int { channels * kernelHeight * kernelWidth }

    /// The columns of the im2col matrix: `batch · outputHeight · outputWidth`.
    @inlinable public var columnCount: Int { batch * outputHeight * outputWidth }

    /// The number of input scalars: `batch · channels · height · width`.
    @inlinable public var inputCount: Int { batch * channels * height * width }

    /// The input shape `[batch, channels, height, width]`.
    @inlinable public var inputShape: [Int] { [batch, channels, height, width] }
}
