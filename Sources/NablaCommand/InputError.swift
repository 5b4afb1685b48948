/// An input a command cannot use, found while it runs: a weights file of another model, a samples
/// file of the wrong shape, a batch larger than the data set. It prints as one line, where
/// ArgumentParser's `ValidationError` thrown from `run` would add the usage text.
struct InputError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
