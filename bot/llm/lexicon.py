"""The words the task classifier (bot.llm.classify) looks for, grouped by the signal they give.

Owns the word lists only; how they are weighed lives in classify. Each `Vocabulary` is word groups
("refactor refactoring …", one idea per group, groups split by "|") matched whole after
lower-casing, plus phrases matched on word boundaries. Lists cover English and the common forms in
German, French, Spanish, Italian, Portuguese, Dutch and Polish, because people ask in their own
language; a word is listed only if it rarely appears in an easy request (chat, writing,
translation, summaries, extraction, simple facts) — "plan" is not a reasoning word ("plan my day"),
"error" is not a code word ("translate this error message").

Why it is fast: classify runs right after a model call has pushed it out of the CPU caches, when
every probe into a large set is a cache miss. So INDEX maps every word of every list to the bits of
the lists it is in (a vocabulary's words, a `Words` set) and to the phrases to try when it is in
the text (each phrase under its longest, rarest word), and a request's words are looked up once
each, in that one table, instead of once per list (bot.llm.shapes `Text`); a list whose bit is not
set is never looked at.
"""

from __future__ import annotations


class Words(frozenset):
    """A set of words for one signal; `bit` is its bit in INDEX."""

    __slots__ = ("bit",)


class Vocabulary:
    """Word groups and phrases for one signal: `forms` maps each form to its group, `rank` keeps
    the groups' order for reasons. `bit` (set by INDEX) marks its words and phrases."""

    __slots__ = ("forms", "phrases", "rank", "bit")

    def __init__(self, groups: str, phrases: str = ""):
        split = [group.split() for group in groups.split("|") if group.strip()]
        self.forms = {form: words[0] for words in split for form in words}
        self.rank = {words[0]: index for index, words in enumerate(split)}
        self.phrases = tuple(
            (f" {p.strip()} ", SHOWN.get(p.strip(), p.strip())) for p in phrases.split("|") if p.strip()
        )


SHOWN = {"tl dr": "tl;dr"}  # ";" is a separator, so "tl;dr" arrives as the phrase "tl dr"

# --- hard: code ---------------------------------------------------------------------------------
CODE_WORDS = Vocabulary(
    "bug bugs buggy | refactor refactoring refactored refactors | regex regexes regexp"
    " | function functions func funktion funktionen fonction fonctions función funzione funkcję funkcja função"
    " | compile compiler compiling compilation compiles | python python3 | javascript js node nodejs"
    " | typescript ts | sql postgres postgresql mysql sqlite mongodb | debug debugging debugger"
    " | stacktrace traceback | segfault | dockerfile docker | kubernetes k8s kubectl | golang | java | c++ | c#"
    " | rust | kotlin | swift | haskell | php | ruby | scala | bash powershell zsh | script scripts skript"
    " | react usestate useeffect | django flask fastapi | pandas numpy | terraform | nginx | git github"
    " | npm pip gradle maven | pytest jest unittest | redis lua | goroutine goroutines | mutex deadlock"
    " | websocket websockets | makefile | cronjob crontab cron | jq | async await | endpoint endpoints"
    " | api | cors | ssl | oom | 502 | segmentation | null undefined none | exception exceptions"
    " | crashloopbackoff | regression | codebase | commit | diff | migration migrations | dependency"
    " | webhook | decorator | linked | boolean | integer | recursion recursive | thread-safe"
    " | localstorage | jwt jwts | idiomatic | latency | p99 | heap | latex | html css | yaml | graphql"
    " | excel vlookup xlookup | formula formulas | vba macro macros | arduino | linux ubuntu systemd"
    " | eslint prettier | vue angular svelte | spring | ansible | openapi swagger | lambda | aws s3 gcp",
    phrases="stack trace | unit test | unit tests | null pointer | bash script | pull request | code review"
    " | exit code | exited with | not found | fails in ci | in production | after upgrading | after deploy"
    " | memory leak | race condition | works locally | status code | error ts | syntaxerror | typeerror"
    " | is this idiomatic | data class | hash passwords | error handling | review this | review my"
    " | code review this | thread safe | connection pool",
)
# "Write / implement / build a …" plus one of these is a request for code.
CODE_MAKERS = Words(
    "write implement create build generate make give need convert code schreib schreibe écris escribe"
    " escreva scrivi napisz".split()
)
CODE_THINGS = Words(
    "function class method script query regex hook handler workflow endpoint cli decorator alias filter"
    " config dockerfile makefile migration test tests program app server bot snippet component module"
    " funktion fonction función funzione funkcję função cronjob lambda schema interface struct enum"
    " requête consulta abfrage klasse classe clase programm programme programa skrypt".split()
)
# Programming languages: "translate this python to go" is code, "translate to German" is not.
LANGUAGES = Words(
    "python javascript typescript java golang go rust kotlin swift c++ c# ruby php scala haskell sql"
    " bash".split()
)

# --- hard: maths --------------------------------------------------------------------------------
MATHS_WORDS = Vocabulary(
    "calculate calculating calculation compute berechne berechnen calcule calcula calcola oblicz"
    " | solve solving | equation equations | derivative derivatives differentiate ableitung dérivée derivada"
    " | integral integrate integrale | limit | probability probabilities odds chance wahrscheinlichkeit"
    " probabilité probabilidad probabilità prawdopodobieństwo kans | eigenvalue eigenvalues eigenvector"
    " | matrix matrices | prime primes | factorial | median variance | percent percentage"
    " | fraction fractions | gcd lcm | log logarithm | sqrt | exponent | area fläche | volume"
    " | perimeter | radius diameter circumference | hypotenuse | triangle | angles angle | hexagon polygon"
    " | series | converge convergent converges | divisible | compounded compound | interest"
    " | mortgage loan | taylor | polynomial | simplify | algebra | geometry | calculus | statistics"
    " | combinatorics | permutations combinations | irrational | theorem | average | mph"
    " | litres liters | integers",
    phrases="how much | how many | standard deviation | square root | power of | to the power | sum of"
    " | expected number | expected value | in how many ways | how many ways | monthly payment"
    " | what's the chance | what is the chance | show that | per hour | km h | wie viele | wie groß | combien"
    " | cuánto | cuántos | cuántas | quanto fa | hoeveel | ile to | quantos",
)
PROOF_WORDS = Vocabulary("prove proving | proof proofs | rigorous rigorously", phrases="formally show")

# --- hard: logic puzzles and multi-step reasoning ------------------------------------------------
LOGIC_WORDS = Vocabulary(
    "riddle riddles indovinello rätsel énigme acertijo adivinanza zagadka raadsel | puzzle puzzles brainteaser | logic logical logically | deduce deduction"
    " | conclude conclusion | therefore | valid | syllogism | knight knights knave knaves | liar liars"
    " | paradox | overtake overtakes | weighings heavier lighter | rota | schedule scheduling"
    " | optimise optimize optimising optimizing optimisation optimization | step-by-step",
    phrases="step by step | think it through | think through | it follows | does it follow | tell the truth"
    " | minimum number | fastest way | fastest crossing | what day | what position | taller than"
    " | shorter than | older than | younger than | faster than | at least one | how long | how old"
    " | to be sure | no dependency | is it possible | can we conclude | what can we conclude"
    " | missing dollar | trade-off | trade-offs | expected value | logic puzzle | how can that be"
    " | how is that possible | weighs more | which weighs | odd one out | next number | the sequence"
    " | always lies | tells the truth | wie lange | cuántos días | welke dag | jaki dzień",
)
FAMILY = Words(
    "father mother son daughter daughters brother brothers sister sisters cousin uncle aunt grandfather"
    " grandmother grandson granddaughter nephew niece husband wife sibling siblings fathers sons"
    " père mère fils fille filles frère sœur vater mutter sohn tochter bruder schwester padre madre hijo"
    " hija hermano hermana ojciec matka syn córka brat siostra".split()
)
NUMBER_WORDS = Words(
    "two three four five six seven eight nine ten eleven twelve twenty hundred thousand half twice"
    " double triple drei vier fünf trois quatre cinq tres cuatro cinco tre quattro".split()
)
CONSTRAINT_WORDS = Vocabulary(
    "must | without | unless | cannot can't | constraint constraints | never",
    phrases="at most | at least | no more than | no later than | only if | budget of | given that | needs the",
)

# --- hard: careful analysis ---------------------------------------------------------------------
ANALYSIS_WORDS = Vocabulary(
    "analyse analyze analysis analysing analyzing analysiere analysieren analiza analizza analizar"
    " | compare comparison comparing | evaluate evaluation evaluating | assess assessment"
    " | critique critically | diagnose | interpret interpretation | significant significance"
    " | implications | objections | trade-off trade-offs tradeoff tradeoffs | weigh | pros"
    " | risks riesgos risques | unit economics | root-cause | nachteile vorteile avantages inconvénients"
    " ventajas desventajas vantaggi svantaggi | consequences | impact | factors | causes ursachen causas"
    " | viable viability feasibility | justify | worth | bias biases | argue | long-term | versus vs",
    phrases="pros and cons | root cause | second-order | second order | should we | should i | which is better"
    " | better long-term | walk me through | what would happen | what might explain | explain why"
    " | why did | how would you evaluate | in detail | con detalle | strongest objections | what's off"
    " | where is it broken | possible causes | think about | to what extent | deep dive | both sides"
    " | what could explain | be critical",
)

# --- easy intents -------------------------------------------------------------------------------
TRANSLATE_WORDS = Vocabulary(
    "translate translation translated übersetze übersetzen übersetzung traduis traduire traduce"
    " traducir traduci tradurre traduza vertaal przetłumacz переведи",
    phrases="how do you say | how do i say | what's the english for | in english | mean in english"
    " | what does | say in",
)
SUMMARY_WORDS = Vocabulary(
    "summarise summarize summarised summarized summarising summarizing | summary summaries | tldr | recap"
    " | condense | gist | résume résumer | zusammen zusammenfassung | riassumi | streszcz | samenvatting",
    phrases="tl dr | key points | main points | key takeaways | sum up | in short | resume este | vat dit samen"
    " | main ideas | main arguments | bullet points",
)
GENRES = Words(
    "poem poems poetry haiku limerick sonnet story stories song chorus rap toast speech eulogy email e-mail"
    " mail letter note message post tweet tagline slogan headline bio description paragraph intro"
    " newsletter announcement reply apology invitation template dialogue scene novel lines line"
    " subject riddle joke jokes rede correo mensagem lettre poème poesia gedicht wiersz rede"
    " wish greeting caption reminder card cards memo agenda outline essay article blog copy".split()
)
WRITING_VERBS = Vocabulary(
    "write writing create draft compose rewrite proofread schreibe schreib écris escribe escreva scrivi"
    " napisz shorten polish",
    phrases="make this sound | make this email | make it sound | more professional | friendlier"
    " | turn these notes | come up with | give me a tagline | give me a riddle | tell me a riddle"
    " | tell me a joke | give me a joke",
)
EXTRACT_WORDS = Vocabulary(
    "extract extrahiere extrais estrai extraiga | hashtags",
    phrases="pull the | pull out | list every | list the | get all | which people | what are the phone"
    " | which of these | in this list"
    " | find the deadline | give me just | tracking number | order number | what fechas | qué fechas"
    " | meeting link",
)
# Conversation, advice and role-play: easy when nothing harder is asked.
CHAT_WORDS = Vocabulary(
    "hi hello hey hiya yo morning evening night | thanks thank thx ty cheers | lol haha | ok okay cool nice"
    " great awesome | bye goodbye | hallo hola bonjour salut ciao merci danke gracias grazie obrigado"
    " dzięki | recommend recommendation suggest | tips | ideas | pretend roleplay role-play"
    " | favourite favorite | joke | sympathy | motivational quote | promoted"
    " | recomiendas recomienda empfiehl empfehlen recommande conseille consigli consiglia polecasz",
    phrases="how are you | what's up | good morning | good night | any tips | tips for | ideas for"
    " | any ideas | let's play | you're a | be a | act as | keep me company | pep talk | what should i"
    " | how do i politely | is it rude | fun fact | wie geht | come stai | tudo bem | qué tal | co słychać"
    " | what can you do | how was your | tell me about | tell me something",
)
# A short question that starts like this and says nothing harder is a simple factual question.
FACT_STARTS = frozenset(
    "who what what's whats when where which is are does do did was were how wer wann wo qui quel quelle"
    " quand où quién qué cuál cuándo dónde chi qual quale quando dove kto kiedy gdzie wie welche welcher"
    " hoe wat wanneer waar".split()
)
# Words that turn a short question into a puzzle ("which weighs more … or …", "what has keys but …").
NOT_SIMPLE = Words("if than more less but always never or except only without same".split())

# --- words that gate other checks ---------------------------------------------------------------
# Numbers in a question (these words, or a "?") are maths; with a quantity cue ("how much", "what is
# left"), a word problem.
QUESTION_WORDS = Words("what how when which who find is".split())
QUANTITY_CUES = Words(
    "much many long old each per total left cost costs pays paid price more less twice half fastest"
    " minimum add adds".split()
)
CONDITIONAL = Words({"if"})  # "if" and numbers: a conditional question
# bot.llm.shapes looks for code lines, SQL and design phrases only when one of these words is there.
CODE_START_WORDS = Words("def class import from function async const let var #include public return".split())
SQL_WORDS = Words("select from update insert delete create alter drop".split())
DESIGN_WORDS = Words({"design", "architect", "architecture", "microservice", "microservices"})


def _index(*lists: Vocabulary | Words) -> dict[str, tuple[int, tuple[tuple[int, str, int, str], ...]]]:
    """Every word of the lists: the bits of the lists it is in, and the phrases to try when it is in
    the text, as (vocabulary's bit, " phrase ", its place in the vocabulary, name).
    A phrase is tried only for its longest word (longer words are rarer: "in how many ways" is
    tried when "many" is in the text, not for every "in"). Gives each list its bit: fewer than 30
    lists, so every mask is a small int."""
    bits: dict[str, int] = {}
    phrases: dict[str, list[tuple[int, str, int, str]]] = {}
    for index, words in enumerate(lists):
        words.bit = bit = 1 << index
        if isinstance(words, Vocabulary):
            for order, (padded, name) in enumerate(words.phrases):
                split = padded.split()
                longest = max(reversed(split), key=len)  # the last of equally long words
                phrases.setdefault(longest, []).append((bit, padded, order, name))
            words = words.forms
        for word in words:
            bits[word] = bits.get(word, 0) | bit
    return {word: (bits.get(word, 0), tuple(phrases.get(word, ()))) for word in [*bits, *phrases]}


INDEX = _index(
    CODE_WORDS, MATHS_WORDS, PROOF_WORDS, LOGIC_WORDS, CONSTRAINT_WORDS, ANALYSIS_WORDS, TRANSLATE_WORDS,
    SUMMARY_WORDS, WRITING_VERBS, EXTRACT_WORDS, CHAT_WORDS, CODE_MAKERS, CODE_THINGS, LANGUAGES, FAMILY,
    NUMBER_WORDS, GENRES, NOT_SIMPLE, QUESTION_WORDS, QUANTITY_CUES, CONDITIONAL, CODE_START_WORDS, SQL_WORDS,
    DESIGN_WORDS,
)  # fmt: skip
