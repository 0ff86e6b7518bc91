/// Common English and Russian function words, ignored when scoring sentences and used to
/// guess the language of a text.
enum Stopwords {
    /// English function words.
    static let english: Set<String> = [
        "a", "about", "above", "after", "again", "against", "all", "also", "am", "an", "and", "any", "are", "as", "at",
        "be", "because", "been", "before", "being", "below", "between", "both", "but", "by", "can", "could", "did", "do",
        "does", "doing", "down", "during", "each", "few", "for", "from", "further", "had", "has", "have", "having", "he",
        "her", "here", "hers", "herself", "him", "himself", "his", "how", "i", "if", "in", "into", "is", "it", "its",
        "itself", "just", "may", "me", "might", "more", "most", "must", "my", "myself", "no", "nor", "not", "now", "of",
        "off", "on", "once", "only", "or", "other", "our", "ours", "ourselves", "out", "over", "own", "same", "shall",
        "she", "should", "so", "some", "such", "than", "that", "the", "their", "theirs", "them", "themselves", "then",
        "there", "these", "they", "this", "those", "through", "to", "too", "under", "until", "up", "upon", "us", "very",
        "was", "we", "were", "what", "when", "where", "which", "while", "who", "whom", "why", "will", "with", "would",
        "yet", "you", "your", "yours", "yourself", "yourselves", "one", "its", "it's", "don't", "can't", "won't",
    ]

    /// Russian function words.
    static let russian: Set<String> = [
        "а", "без", "более", "бы", "был", "была", "были", "было", "быть", "в", "вам", "вас", "весь", "во", "вот", "все",
        "всего", "всех", "вы", "где", "да", "даже", "для", "до", "его", "ее", "её", "если", "есть", "еще", "ещё", "же",
        "за", "здесь", "и", "из", "или", "им", "их", "к", "как", "когда", "кто", "ли", "либо", "мне", "может", "мы", "на",
        "над", "надо", "наш", "не", "него", "нее", "неё", "нет", "ни", "них", "но", "ну", "о", "об", "однако", "он", "она",
        "они", "оно", "от", "очень", "по", "под", "при", "про", "с", "со", "так", "также", "такой", "там", "те", "тем",
        "то", "того", "тоже", "той", "только", "том", "ты", "у", "уже", "хотя", "чего", "чей", "чем", "что", "чтобы",
        "эта", "эти", "это", "этого", "этой", "этом", "этот", "я", "который", "которая", "которые", "которых", "которое",
        "себя", "свой", "своих", "свои", "своей", "между", "после", "перед", "через", "будет", "были", "раз", "нам",
        "ними", "ему", "ей", "ими", "всё", "всем", "нас", "вами", "мой", "моя", "твой", "ваш", "ней", "нём",
    ]

    /// Whether `word` (lower-cased) is a function word in either language.
    static func contains(_ word: String) -> Bool {
        english.contains(word) || russian.contains(word)
    }
}
