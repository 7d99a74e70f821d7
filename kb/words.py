"""Per-language word tables: the words a client's message is recognised by.

One table per language, as data: greetings, thanks, asking for a person, and the
politeness and filler the knowledge base leaves out of its terms. Words are lower case
with `ё` folded to `е`, as `kb.text.words` gives them. A new language is a new table.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["WORDS", "LanguageWords", "every"]


@dataclass(frozen=True, slots=True)
class LanguageWords:
    greetings: frozenset[str]
    """A message of these words only is a greeting (`/start` included)."""
    thanks: frozenset[str]
    """A message of these words only is thanks or an acknowledgement."""
    courtesy: frozenset[str]
    """Beside thanks, or alone, these keep a message thanks ("спасибо, всё отлично")."""
    person: frozenset[str]
    """One of these in a short message asks for a person."""
    rating: frozenset[str]
    """Beside a score of 1–5 after the bot asked for one, these keep it a rating ("на 5")."""
    solved: frozenset[str]
    """One of these in a short message says an answer settled the question ("помогло")."""
    negations: frozenset[str]
    """With one, "помогло" settles nothing ("не помогло"); before `no_longer`, the client
    needs no help any more ("уже не надо")."""
    reservations: frozenset[str]
    """Buts and question words: with one, a message settles nothing ("помогло, но…", "а
    если не помогло?")."""
    no_longer: frozenset[str]
    """After a negation, the question is not needed any more ("не надо", "not needed")."""
    dismissals: frozenset[str]
    """Alone, the question is not needed any more ("отбой", "nevermind")."""
    asides: frozenset[str]
    """Words that do not change what such a message says ("уже", "anymore")."""
    waiting: frozenset[str]
    """One of these in a short message of no topic asks how long the wait is ("сколько
    ждать?", «ау, есть кто?», "how long will it take?")."""
    continuing: frozenset[str]
    """Opening a message, these carry on from the one before («а ставка какая?», "and the
    fee?")."""
    anaphora: frozenset[str]
    """Standing for something said before («как её заблокировать», "how do I block it")."""
    filler: frozenset[str]
    """Politeness the knowledge base drops from a question's terms."""
    generic: frozenset[str]
    """Words that name no topic (pronouns, prepositions, "problem", "help"): a question
    whose only other word is a topic ("у меня проблема с картой", "card") is vague."""


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


WORDS: dict[str, LanguageWords] = {
    "ru": LanguageWords(
        greetings=_words(
            "привет здравствуйте здравствуй добрый доброе день вечер утро алло ку хай начать старт"
        ),
        thanks=_words("спасибо благодарю спс большое огромное ок понятно ясно хорошо"),
        courtesy=_words(
            "все отлично супер класс круто замечательно прекрасно здорово чудесно вам вас тебе"
            " всего доброго хорошего дня вечера выходных очень"
        ),
        person=_words("оператор оператора оператору человек человека живой менеджер сотрудник"),
        rating=_words(
            "оценка оценку оцениваю ставлю поставлю на из звезд звезды звезда звездочки балл"
            " балла баллов"
        ),
        solved=_words(
            "помогло помог помогла помогли решен решено решился решилось разобрался разобралась"
            " разобрались получилось сработало"
        ),
        negations=_words("не нет ни"),
        reservations=_words(
            "но однако хотя частично почти если еще пока как что где когда почему зачем"
            " сколько какой какая какие"
        ),
        no_longer=_words("надо нужно нужна нужен нужны актуально актуален требуется"),
        dismissals=_words("отбой отмена отменить отменяю неактуально"),
        asides=_words("уже все больше сам сама сами вроде вопрос"),
        waiting=_words(
            "ждать жду ждем подождать ожидать ожидаю ожидание ожидания долго так скоро сколько"
            " когда ответите ответят ответит ответа ответ ответьте отвечаете отвечает ответили"
            " очередь очереди ау эй алло кто живой живые тут здесь там вы слышите ну"
            " помогут поможет подключится минут минуту минуты час часа часов новости новостей"
            " моему моим моей моего вопросу вопросом заявка заявке заявкой заявку обращение"
            " обращения обращению обращением заявки статус"
        ),
        continuing=_words("а и но еще тогда также"),
        anaphora=_words("ее его их ей ему им ней нее него нем них"),
        filler=_words(
            "здравствуйте здравствуй привет добрый доброе день утро вечер пожалуйста"
            " спасибо подскажите скажите будьте добры уважаемые ну вот"
        ),
        generic=_words(
            "у меня мне я мой моя моё мое мои мы нас нам с со по про о об в во на и а но"
            " или не это есть был была было что как где вопрос вопросы проблема проблемы"
            " проблемой проблему помощь помогите помочь нужна нужно нужен хочу хотел"
            " хотела можно ли"
        ),
    ),
    "en": LanguageWords(
        greetings=_words("hi hello hey good morning evening afternoon start"),
        thanks=_words("thanks thank you thx ok okay"),
        courtesy=_words(
            "great perfect awesome excellent cool nice fine wonderful all good so much very"
            " have a day"
        ),
        person=_words("operator human person agent someone"),
        rating=_words("i rate rating give stars star points out of"),
        solved=_words("solved resolved helped fixed sorted worked"),
        negations=_words("not no nor never don didn doesn isn wasn hasn haven"),
        reservations=_words("but though partly almost if still yet how what where when why which"),
        no_longer=_words("need needed necessary mind"),
        dismissals=_words("nevermind cancel"),
        asides=_words("already anymore longer myself all now t"),
        waiting=_words(
            "wait waiting long longer soon when will answer reply respond response anyone"
            " anybody there hello still take queue any update updates news going minutes hour"
            " hours status request ticket working s"
        ),
        continuing=_words("and but also so then"),
        anaphora=_words("it its them they"),
        filler=_words("hi hello hey dear please thanks thank thx a an the"),
        generic=_words(
            "i me my mine we our us have has had a an the with about on in of for to and"
            " or not is are it this that problem problems issue issues question"
            " questions help need want can what how where"
        ),
    ),
}


def every(kind: str) -> frozenset[str]:
    """One kind of word (a `LanguageWords` field) in every language: a client may greet in
    one language and ask in another."""
    return frozenset().union(*(getattr(table, kind) for table in WORDS.values()))
