/// Long documents with facts planted on known pages, and the questions that
/// ask for them (some in other word forms than the text), for
/// `scribe retrieval-bench`. Deterministic: the same seed gives the same
/// pages.
struct RetrievalCorpus {
    /// A fact: the sentence planted, the question asking for it.
    struct Fact {
        var sentence: String
        var question: String
    }

    /// A document of the corpus: its file name, pages, and where each fact is.
    struct Document {
        var filename: String
        var pages: [String]
        /// The facts planted, with their page (from 1).
        var facts: [(fact: Fact, page: Int)]
    }

    static let englishFacts: [Fact] = [
        .init(sentence: "The late delivery penalty is 2 percent of the order value per week.", question: "What penalties apply to late deliveries?"),
        .init(sentence: "Either party may terminate the agreement with ninety days written notice.", question: "How much notice ends the agreement?"),
        .init(sentence: "The warranty period for the pumps is 36 months from commissioning.", question: "How long is the warranty on pumps?"),
        .init(sentence: "Invoice INV-2024-0087 was issued for the turbine overhaul.", question: "What was INV-2024-0087 issued for?"),
        .init(sentence: "The supplier's bank account number is 4411 2035 8890.", question: "What is the supplier's bank account number?"),
        .init(sentence: "Disputes are settled by arbitration in Stockholm.", question: "Where are disputes arbitrated?"),
        .init(sentence: "The project manager on the client side is Helena Marquardt.", question: "Who is Marquardt?"),
        .init(sentence: "Insurance cover must be at least 5 million euros per incident.", question: "How much insurance is required per incident?"),
        .init(sentence: "Confidentiality obligations survive for seven years after expiry.", question: "How long does confidentiality survive?"),
        .init(sentence: "Spare parts are delivered to the warehouse in Rotterdam.", question: "Which warehouse receives the spare parts?"),
        .init(sentence: "The annual maintenance fee is 48,000 euros, payable quarterly.", question: "How much are the maintenance fees?"),
        .init(sentence: "Acceptance tests are performed within 14 days of installation.", question: "When is acceptance testing performed?"),
        .init(sentence: "Force majeure includes floods, earthquakes and government embargoes.", question: "Is an embargo force majeure?"),
        .init(sentence: "The governing law of this contract is the law of Switzerland.", question: "Which governing law applies?"),
        .init(sentence: "Training for operators takes five working days at the plant.", question: "How long does operator training take?"),
        .init(sentence: "Price adjustments follow the steel index published by Eurostat.", question: "How are prices adjusted to steel?"),
        .init(sentence: "The liability cap equals the total contract price.", question: "What caps the liability?"),
        .init(sentence: "Subcontracting requires prior written approval by the buyer.", question: "May the supplier subcontract work?"),
        .init(sentence: "Delivery terms are DAP Hamburg according to Incoterms 2020.", question: "Which Incoterms apply?"),
        .init(sentence: "Software updates are provided free of charge for three years.", question: "Are software updates free?"),
        .init(sentence: "The safety officer must be notified of any incident within 24 hours.", question: "Who is notified of incidents?"),
        .init(sentence: "Payment is due 45 days after receipt of a correct invoice.", question: "When is payment due?"),
        .init(sentence: "The retention amount of 10 percent is released after final acceptance.", question: "When is the retention released?"),
        .init(sentence: "Order number PO-77310 covers the second compressor.", question: "What does PO-77310 cover?"),
        .init(sentence: "The kick-off meeting took place on 12 March in Vienna.", question: "Where did the kick-off meeting take place?"),
        .init(sentence: "Noise emissions must stay below 85 decibels at one metre.", question: "What is the limit on noise emission?"),
        .init(sentence: "Drawings are approved by the chief engineer, Tomas Lindqvist.", question: "Who approves the drawings?"),
        .init(sentence: "Packaging must be seaworthy and marked with the order number.", question: "Must packaging be seaworthy?"),
        .init(sentence: "Extensions of time are granted only for delays caused by the buyer.", question: "When are extensions of time granted?"),
        .init(sentence: "The performance guarantee is valid until 31 December 2027.", question: "Until when is the performance guarantee valid?"),
        .init(sentence: "Commissioning engineers are accommodated in hotels paid by the buyer.", question: "Who pays the hotels of commissioning engineers?"),
        .init(sentence: "Corrosion protection follows ISO 12944 category C4.", question: "Which corrosion category is required?"),
    ]

    static let russianFacts: [Fact] = [
        .init(sentence: "Штраф за просрочку поставки составляет два процента в неделю.", question: "Какие штрафы за просрочку поставки?"),
        .init(sentence: "Договор может быть расторгнут любой стороной с уведомлением за девяносто дней.", question: "Как расторгнуть договор?"),
        .init(sentence: "Гарантийный срок на насосы составляет тридцать шесть месяцев.", question: "Какой гарантийный срок у насосов?"),
        .init(sentence: "Счёт СЧ-2024-0415 выставлен за ремонт турбины.", question: "За что выставлен СЧ-2024-0415?"),
        .init(sentence: "Споры рассматриваются в арбитражном суде Санкт-Петербурга.", question: "В каком суде рассматривают споры?"),
        .init(sentence: "Руководителем проекта со стороны заказчика назначена Ирина Волкова.", question: "Кто такая Волкова?"),
        .init(sentence: "Страховое покрытие должно составлять не менее пяти миллионов рублей.", question: "Каким должно быть страховое покрытие?"),
        .init(sentence: "Обязательства о конфиденциальности действуют семь лет после окончания договора.", question: "Сколько лет действует конфиденциальность?"),
        .init(sentence: "Запасные части доставляются на склад в Екатеринбурге.", question: "На какой склад доставляют запасные части?"),
        .init(sentence: "Ежегодная плата за обслуживание составляет сорок восемь тысяч рублей.", question: "Какова плата за обслуживание?"),
        .init(sentence: "Приёмочные испытания проводятся в течение четырнадцати дней после монтажа.", question: "Когда проводят приёмочные испытания?"),
        .init(sentence: "Обучение операторов занимает пять рабочих дней.", question: "Сколько дней обучают операторов?"),
        .init(sentence: "Гарантийное удержание в размере десяти процентов возвращается после окончательной приёмки.", question: "Когда возвращают удержание?"),
        .init(sentence: "Заказ номер 55120 относится ко второму компрессору.", question: "К чему относится заказ 55120?"),
        .init(sentence: "Уровень шума не должен превышать восьмидесяти пяти децибел.", question: "Какой допустимый уровень шума?"),
        .init(sentence: "Чертежи утверждает главный инженер Павел Смирнов.", question: "Кто утверждает чертежи?"),
        .init(sentence: "Упаковка должна быть пригодной для морской перевозки.", question: "Какой должна быть упаковка для перевозки?"),
        .init(sentence: "Банковская гарантия действует до тридцать первого декабря.", question: "До какого числа действует банковская гарантия?"),
        .init(sentence: "Поставщик обязан сообщить об аварии инженеру по технике безопасности в течение суток.", question: "Кому сообщают об авариях?"),
        .init(sentence: "Командированные инженеры проживают в гостинице за счёт покупателя.", question: "Кто платит за гостиницу инженеров?"),
    ]

    /// Words of every page (the text around the facts), shared with the facts
    /// on purpose: "delivery", "payment", "contract" and "party" are everywhere.
    static let englishWords = """
        the a of to and in for with by on under this that each any all such other its their party parties contract agreement \
        supplier buyer delivery deliveries payment payments goods services works schedule annex section clause article terms \
        obligations rights shall may must will within after before during following written notice days weeks months year \
        price value order orders documents documentation site plant equipment installation performance quality standards \
        requirements specification technical commercial general conditions provisions applicable relevant reasonable \
        responsible responsibility costs expenses approval consent information records report reports meeting meetings \
        representative personnel staff materials parts components system systems operation operations maintenance
        """.split(whereSeparator: \.isWhitespace).map(String.init)

    static let russianWords = """
        и в на по с для от до при о об за к из что это его их все любой такой другой сторона стороны договор договора \
        соглашение поставщик покупатель поставка поставки оплата оплаты товар товары услуги работы график приложение раздел \
        пункт статья условия обязательства права должен может будет течение после до письменное уведомление дней недель \
        месяцев года цена стоимость заказ документы документация площадка оборудование монтаж качество стандарты \
        требования технические коммерческие общие положения разумные ответственность расходы согласие информация отчёт \
        совещание представитель персонал материалы части компоненты система эксплуатация обслуживание
        """.split(whereSeparator: \.isWhitespace).map(String.init)

    /// A small deterministic generator (SplitMix64).
    struct Generator {
        var state: UInt64
        mutating func next() -> UInt64 {
            state &+= 0x9E37_79B9_7F4A_7C15
            var z = state
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        mutating func below(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    }

    /// A page of about `words` words of sentences from `vocabulary`, numbered.
    static func fillerPage(_ number: Int, words: Int, vocabulary: [String], generator: inout Generator) -> String {
        var sentences: [String] = ["\(number)."]
        var written = 0
        while written < words {
            let length = 8 + generator.below(10)
            var sentence = (0..<length).map { _ in vocabulary[generator.below(vocabulary.count)] }.joined(separator: " ")
            sentence = sentence.prefix(1).uppercased() + sentence.dropFirst() + "."
            sentences.append(sentence)
            written += length
        }
        // Lines of about twelve words, as a page reads.
        var lines: [String] = []
        var line: [Substring] = []
        for word in sentences.joined(separator: " ").split(separator: " ") {
            line.append(word)
            if line.count == 12 { lines.append(line.joined(separator: " ")); line = [] }
        }
        if !line.isEmpty { lines.append(line.joined(separator: " ")) }
        return lines.joined(separator: "\n")
    }

    /// A document of `pages` pages with `facts` each planted, in the middle of a page, on its own page.
    static func document(filename: String, pages: Int, facts: [Fact], vocabulary: [String], seed: UInt64) -> Document {
        var generator = Generator(state: seed)
        var texts = (1...pages).map { fillerPage($0, words: 300, vocabulary: vocabulary, generator: &generator) }
        var placed: [(Fact, Int)] = []
        var free = Array(1...pages)
        for fact in facts {
            let page = free.remove(at: generator.below(free.count))
            var lines = texts[page - 1].split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
            lines.insert(fact.sentence, at: lines.count / 2)
            texts[page - 1] = lines.joined(separator: "\n")
            placed.append((fact, page))
        }
        return Document(filename: filename, pages: texts, facts: placed)
    }

    /// Filler only: pages for the cost measure.
    static func fillerDocument(filename: String, pages: Int, seed: UInt64) -> Document {
        var generator = Generator(state: seed)
        return Document(
            filename: filename,
            pages: (1...pages).map { fillerPage($0, words: 300, vocabulary: englishWords, generator: &generator) },
            facts: []
        )
    }
}
