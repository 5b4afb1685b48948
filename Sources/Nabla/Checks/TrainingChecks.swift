/// Checks of the training floor's arguments: learning-rate schedules and losses.
extension Misuse {
    /// Checks that a schedule's step is not negative.
    static func checkStep(_ op: String, _ step: Int) {
        check(step >= 0, op, "step \(step) is negative")
    }

    /// Checks that an elementwise loss gets a non-empty prediction and a target of its shape.
    static func checkLossShapes(_ op: String, prediction: [Int], target: [Int]) {
        check(
            prediction == target, op,
            "prediction \(prediction) and target \(target): shapes differ")
        check(
            prediction.reduce(1, *) > 0, op,
            "prediction \(prediction) is empty: the mean of no elements is undefined")
    }
}
