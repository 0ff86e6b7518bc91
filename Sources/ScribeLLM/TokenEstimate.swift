/// A rough token count for budgeting context and recording usage when a provider reports none.
///
/// It is an estimate, not a tokenizer: about four bytes of UTF-8 per token, rounded up. That is
/// close for English and errs high for Cyrillic (two bytes a letter), which is the safe side
/// when fitting a context window.
public enum TokenEstimate {
    /// Estimated tokens in `text`: `ceil(utf8 byte count / 4)`; 0 for an empty string.
    public static func tokens(in text: String) -> Int {
        (text.utf8.count + 3) / 4
    }

    /// Estimated tokens in a conversation: the sum over the messages' contents.
    public static func tokens(in messages: [ChatMessage]) -> Int {
        messages.reduce(0) { $0 + tokens(in: $1.content) }
    }
}
