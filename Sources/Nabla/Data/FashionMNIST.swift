/// Images with class labels, ready for training: `images` is `[N, channels, height, width]`.
public struct LabeledImages<Scalar: TensorScalar>: Sendable {
    /// `[N, C, H, W]`.
    public var images: Tensor<Scalar>
    /// One class index per image.
    public var labels: [Int]
    /// The class names, index by index.
    public var classNames: [String]

    public init(images: Tensor<Scalar>, labels: [Int], classNames: [String]) {
        Misuse.check(
            images.rank == 4 && images.shape[0] == labels.count, "LabeledImages",
            "images \(images.shape) and \(labels.count) labels: need [N, C, H, W] with N = labels")
        self.images = images
        self.labels = labels
        self.classNames = classNames
    }

    /// The number of images.
    public var count: Int { labels.count }

    /// The first `count` images (all of them if there are fewer).
    public func prefix(_ count: Int) -> LabeledImages {
        let count = Swift.min(Swift.max(count, 0), self.count)
        return LabeledImages(
            images: images.slice(alongAxis: 0, 0..<count), labels: Array(labels[..<count]),
            classNames: classNames)
    }

    /// The images in batches of `size`, in a new order each call when `generator` is given (the
    /// same seed gives the same orders); the last batch keeps what is left.
    public func batches(of size: Int, shuffling generator: inout SeededGenerator?) -> [Batch] {
        Misuse.check(size > 0, "batches", "batch size \(size) must be positive")
        var order = Array(0..<count)
        if generator != nil { order.shuffle(using: &generator!) }
        let imageSize = images.scalarCount / Swift.max(count, 1)
        return stride(from: 0, to: count, by: size).map { start in
            let indices = order[start..<Swift.min(start + size, count)]
            let batchImages = images.withUnsafeBufferPointer { source in
                Tensor<Scalar>(unsafeUninitializedShape: [indices.count] + images.shape.dropFirst()) { target in
                    for (row, index) in indices.enumerated() {
                        (target.baseAddress! + row * imageSize).initialize(
                            from: source.baseAddress! + index * imageSize, count: imageSize)
                    }
                }
            }
            return Batch(images: batchImages, labels: indices.map { labels[$0] })
        }
    }

    /// One batch: `images` `[B, C, H, W]` and their labels.
    public struct Batch: Sendable {
        public var images: Tensor<Scalar>
        public var labels: [Int]

        /// `images` `[B, C, H, W]` and their `B` labels.
        public init(images: Tensor<Scalar>, labels: [Int]) {
            self.images = images
            self.labels = labels
        }
    }
}

/// Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017): 28 × 28 grey images of clothing in 10
/// classes, 60 000 for training and 10 000 for testing, as Debian's `dataset-fashion-mnist`
/// installs them (gzipped IDX files).
public enum FashionMNIST {
    /// Where `dataset-fashion-mnist` puts the files.
    public static let defaultDirectory = "/usr/share/datasets/fashion-mnist"

    public static let classNames = [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
        "Ankle boot",
    ]

    public enum Split: String, Sendable {
        case train
        case test = "t10k"
    }

    /// Loads a split with pixels scaled to [0, 1] (`pixel / 255`), as `[N, 1, 28, 28]`.
    ///
    /// - Parameters:
    ///   - split: The training (60 000 images) or test (10 000 images) split.
    ///   - directory: The directory holding the gzipped IDX files, named as upstream
    ///     (`train-images-idx3-ubyte.gz`, `t10k-labels-idx1-ubyte.gz`, …).
    ///   - limit: Load only the first `limit` images (for quick runs).
    ///   - scalar: The scalar type of the images.
    /// - Throws: ``DatasetError`` for a missing, corrupt, truncated or inconsistent file.
    @_specialize(where Scalar == Float) @_specialize(where Scalar == Double)
    public static func load<Scalar: TensorScalar>(
        _ split: Split, from directory: String = defaultDirectory, limit: Int? = nil,
        as scalar: Scalar.Type = Float.self
    ) throws(DatasetError) -> LabeledImages<Scalar> {
        let imagePath = "\(directory)/\(split.rawValue)-images-idx3-ubyte.gz"
        let labelPath = "\(directory)/\(split.rawValue)-labels-idx1-ubyte.gz"
        let images = try IDXFile(contentsOf: imagePath, rank: 3)
        guard images.dimensions[1] == 28, images.dimensions[2] == 28 else {
            throw .unexpectedShape(path: imagePath, found: images.dimensions, expected: "[N, 28, 28]")
        }
        let labels = try IDXFile(contentsOf: labelPath, rank: 1)
        guard images.dimensions[0] == labels.dimensions[0] else {
            throw .countMismatch(
                images: imagePath, imageCount: images.dimensions[0], labels: labelPath,
                labelCount: labels.dimensions[0])
        }
        if let index = labels.bytes.firstIndex(where: { $0 >= classNames.count }) {
            throw .labelOutOfRange(
                path: labelPath, index: index, label: Int(labels.bytes[index]), classes: classNames.count)
        }
        let count = Swift.min(limit ?? Int.max, images.dimensions[0])
        let pixels = 28 * 28
        let tensor = Tensor<Scalar>(unsafeUninitializedShape: [count, 1, 28, 28]) { buffer in
            for index in 0..<(count * pixels) { buffer[index] = Scalar(images.bytes[index]) / 255 }
        }
        return LabeledImages(
            images: tensor, labels: labels.bytes[..<count].map(Int.init), classNames: classNames)
    }
}
