/* cues.c: the lexicon of phrases that name a kind of work (cues.h).
 *
 * The phrases are written as features.c normalises words: lower case, no
 * apostrophes ("whats"), hyphens and slashes split words ("trade off",
 * "pros cons"). A trailing '*' makes a stem. The list says what a phrase
 * usually asks for; the learned model weighs it against everything else
 * in the request, so a phrase may appear in material or in a question
 * about something else without harm.
 *
 * The index: open-addressed tables keyed by a 64-bit hash of the phrase,
 * combined from the FNV-1a hashes of its words, so matching never joins
 * strings: features.c hashes each word once. Built on first use. The
 * tables are small (19 KB in all, with two bit filters that let most
 * words skip them) because they are read for every word of
 * every request, and a gateway between two requests runs enough other code
 * to push a large table out of the cache. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include "allot/cues.h"
#include "allot/kinds.h"

#define STEM_MIN 4
#define STEM_MAX 10

struct cue {
    const char *text;
    enum allot_category category;
};

/* clang-format off */
static const struct cue cues[] = {
    /* plan */
    {"plan", ALLOT_CAT_PLAN}, {"plan out", ALLOT_CAT_PLAN}, {"a plan", ALLOT_CAT_PLAN},
    {"planning", ALLOT_CAT_PLAN}, {"roadmap", ALLOT_CAT_PLAN}, {"itinerary", ALLOT_CAT_PLAN},
    {"schedule", ALLOT_CAT_PLAN}, {"step by step plan", ALLOT_CAT_PLAN},
    {"steps to", ALLOT_CAT_PLAN}, {"outline the steps", ALLOT_CAT_PLAN},
    {"break down", ALLOT_CAT_PLAN}, {"break this down", ALLOT_CAT_PLAN},
    {"break it down", ALLOT_CAT_PLAN}, {"how should we", ALLOT_CAT_PLAN},
    {"how should i", ALLOT_CAT_PLAN}, {"how do we get", ALLOT_CAT_PLAN},
    {"what should we do next", ALLOT_CAT_PLAN}, {"next steps", ALLOT_CAT_PLAN},
    {"milestones", ALLOT_CAT_PLAN}, {"milestone", ALLOT_CAT_PLAN}, {"phases", ALLOT_CAT_PLAN},
    {"strategy for", ALLOT_CAT_PLAN}, {"game plan", ALLOT_CAT_PLAN},
    {"rollout", ALLOT_CAT_PLAN}, {"roll out", ALLOT_CAT_PLAN}, {"sequence", ALLOT_CAT_PLAN},
    {"timeline", ALLOT_CAT_PLAN}, {"in what order", ALLOT_CAT_PLAN},
    {"week by week", ALLOT_CAT_PLAN}, {"day by day", ALLOT_CAT_PLAN},
    {"study plan", ALLOT_CAT_PLAN}, {"migration plan", ALLOT_CAT_PLAN},
    {"action plan", ALLOT_CAT_PLAN}, {"prepare for", ALLOT_CAT_PLAN},
    {"organize", ALLOT_CAT_PLAN}, {"organise", ALLOT_CAT_PLAN},
    /* decide */
    {"which should", ALLOT_CAT_DECIDE}, {"which of", ALLOT_CAT_DECIDE},
    {"which one", ALLOT_CAT_DECIDE}, {"which option", ALLOT_CAT_DECIDE},
    {"which tool", ALLOT_CAT_DECIDE}, {"which library", ALLOT_CAT_DECIDE},
    {"should we", ALLOT_CAT_DECIDE}, {"should i", ALLOT_CAT_DECIDE},
    {"choose", ALLOT_CAT_DECIDE}, {"choice", ALLOT_CAT_DECIDE}, {"pick", ALLOT_CAT_DECIDE},
    {"select", ALLOT_CAT_DECIDE}, {"recommend one", ALLOT_CAT_DECIDE},
    {"best option", ALLOT_CAT_DECIDE}, {"decid*", ALLOT_CAT_DECIDE},
    {"decision", ALLOT_CAT_DECIDE}, {"prioriti*", ALLOT_CAT_DECIDE},
    {"rank", ALLOT_CAT_DECIDE}, {"go with", ALLOT_CAT_DECIDE}, {"worth it", ALLOT_CAT_DECIDE},
    {"is it worth", ALLOT_CAT_DECIDE}, {"next tool", ALLOT_CAT_DECIDE},
    {"next action", ALLOT_CAT_DECIDE}, {"call next", ALLOT_CAT_DECIDE},
    {"what to do next", ALLOT_CAT_DECIDE}, {"go or no go", ALLOT_CAT_DECIDE},
    {"yes or no", ALLOT_CAT_DECIDE}, {"approve or reject", ALLOT_CAT_DECIDE},
    {"shortlist", ALLOT_CAT_DECIDE}, {"route this", ALLOT_CAT_DECIDE},
    /* review */
    {"review", ALLOT_CAT_REVIEW}, {"code review", ALLOT_CAT_REVIEW},
    {"critique", ALLOT_CAT_REVIEW}, {"grade", ALLOT_CAT_REVIEW}, {"grading", ALLOT_CAT_REVIEW},
    {"is this correct", ALLOT_CAT_REVIEW}, {"is it correct", ALLOT_CAT_REVIEW},
    {"is this right", ALLOT_CAT_REVIEW}, {"correct or not", ALLOT_CAT_REVIEW},
    {"verify", ALLOT_CAT_REVIEW}, {"double check", ALLOT_CAT_REVIEW},
    {"check my", ALLOT_CAT_REVIEW}, {"check whether", ALLOT_CAT_REVIEW},
    {"check if", ALLOT_CAT_REVIEW}, {"evaluate", ALLOT_CAT_REVIEW},
    {"assess the quality", ALLOT_CAT_REVIEW}, {"score", ALLOT_CAT_REVIEW},
    {"rate", ALLOT_CAT_REVIEW}, {"feedback", ALLOT_CAT_REVIEW}, {"find bugs", ALLOT_CAT_REVIEW},
    {"any mistakes", ALLOT_CAT_REVIEW}, {"mistakes", ALLOT_CAT_REVIEW},
    {"good enough", ALLOT_CAT_REVIEW}, {"rubric", ALLOT_CAT_REVIEW},
    {"pass or fail", ALLOT_CAT_REVIEW}, {"does this hold up", ALLOT_CAT_REVIEW},
    {"what do you think of", ALLOT_CAT_REVIEW}, {"accurate", ALLOT_CAT_REVIEW},
    {"fact check", ALLOT_CAT_REVIEW}, {"weaknesses", ALLOT_CAT_REVIEW},
    {"lgtm", ALLOT_CAT_REVIEW}, {"approve", ALLOT_CAT_REVIEW},
    /* risk */
    {"what could go wrong", ALLOT_CAT_RISK}, {"what could break", ALLOT_CAT_RISK},
    {"what can go wrong", ALLOT_CAT_RISK}, {"risk", ALLOT_CAT_RISK}, {"risks", ALLOT_CAT_RISK},
    {"risky", ALLOT_CAT_RISK}, {"is it safe", ALLOT_CAT_RISK}, {"is this safe", ALLOT_CAT_RISK},
    {"safe to", ALLOT_CAT_RISK}, {"secure enough", ALLOT_CAT_RISK},
    {"failure mode*", ALLOT_CAT_RISK}, {"threat model*", ALLOT_CAT_RISK},
    {"pitfalls", ALLOT_CAT_RISK}, {"vulnerab*", ALLOT_CAT_RISK}, {"danger*", ALLOT_CAT_RISK},
    {"liabilit*", ALLOT_CAT_RISK}, {"legal exposure", ALLOT_CAT_RISK},
    {"compliance", ALLOT_CAT_RISK}, {"exploit*", ALLOT_CAT_RISK}, {"attack", ALLOT_CAT_RISK},
    {"expose us", ALLOT_CAT_RISK}, {"blast radius", ALLOT_CAT_RISK},
    {"worst case", ALLOT_CAT_RISK}, {"red flags", ALLOT_CAT_RISK},
    {"downside*", ALLOT_CAT_RISK}, {"hazard*", ALLOT_CAT_RISK},
    {"gotchas", ALLOT_CAT_RISK}, {"concerns", ALLOT_CAT_RISK},
    {"what might fail", ALLOT_CAT_RISK}, {"side effects", ALLOT_CAT_RISK},
    /* tradeoff */
    {"compare", ALLOT_CAT_TRADEOFF}, {"comparison", ALLOT_CAT_TRADEOFF},
    {"pros and cons", ALLOT_CAT_TRADEOFF}, {"pros cons", ALLOT_CAT_TRADEOFF},
    {"advantages and disadvantages", ALLOT_CAT_TRADEOFF}, {"tradeoff*", ALLOT_CAT_TRADEOFF},
    {"trade off", ALLOT_CAT_TRADEOFF}, {"trade offs", ALLOT_CAT_TRADEOFF},
    {"versus", ALLOT_CAT_TRADEOFF}, {"vs", ALLOT_CAT_TRADEOFF}, {"weigh", ALLOT_CAT_TRADEOFF},
    {"which is better", ALLOT_CAT_TRADEOFF}, {"difference between", ALLOT_CAT_TRADEOFF},
    {"differences between", ALLOT_CAT_TRADEOFF}, {"or should we", ALLOT_CAT_TRADEOFF},
    {"strengths and weaknesses", ALLOT_CAT_TRADEOFF}, {"benefits and drawbacks", ALLOT_CAT_TRADEOFF},
    {"recommend with", ALLOT_CAT_TRADEOFF}, {"rationale", ALLOT_CAT_TRADEOFF},
    {"when to use", ALLOT_CAT_TRADEOFF}, {"better fit", ALLOT_CAT_TRADEOFF},
    {"cost benefit", ALLOT_CAT_TRADEOFF},
    /* synthesize */
    {"briefing", ALLOT_CAT_SYNTHESIZE}, {"brief me", ALLOT_CAT_SYNTHESIZE},
    {"from these", ALLOT_CAT_SYNTHESIZE}, {"across these", ALLOT_CAT_SYNTHESIZE},
    {"across the", ALLOT_CAT_SYNTHESIZE}, {"what matters", ALLOT_CAT_SYNTHESIZE},
    {"what really", ALLOT_CAT_SYNTHESIZE}, {"what changed", ALLOT_CAT_SYNTHESIZE},
    {"overall", ALLOT_CAT_SYNTHESIZE}, {"synthesi*", ALLOT_CAT_SYNTHESIZE},
    {"signal from noise", ALLOT_CAT_SYNTHESIZE}, {"signal vs noise", ALLOT_CAT_SYNTHESIZE},
    {"draw conclusions", ALLOT_CAT_SYNTHESIZE}, {"conclusion*", ALLOT_CAT_SYNTHESIZE},
    {"conclude", ALLOT_CAT_SYNTHESIZE}, {"big picture", ALLOT_CAT_SYNTHESIZE},
    {"bottom line", ALLOT_CAT_SYNTHESIZE}, {"takeaway*", ALLOT_CAT_SYNTHESIZE},
    {"themes", ALLOT_CAT_SYNTHESIZE}, {"consensus", ALLOT_CAT_SYNTHESIZE},
    {"what do these tell", ALLOT_CAT_SYNTHESIZE}, {"make sense of", ALLOT_CAT_SYNTHESIZE},
    {"so what", ALLOT_CAT_SYNTHESIZE}, {"state of", ALLOT_CAT_SYNTHESIZE},
    /* solve */
    {"prove", ALLOT_CAT_SOLVE}, {"proof", ALLOT_CAT_SOLVE}, {"why does", ALLOT_CAT_SOLVE},
    {"why do", ALLOT_CAT_SOLVE}, {"why is", ALLOT_CAT_SOLVE}, {"explain why", ALLOT_CAT_SOLVE},
    {"root cause", ALLOT_CAT_SOLVE}, {"figure out", ALLOT_CAT_SOLVE},
    {"diagnos*", ALLOT_CAT_SOLVE}, {"solve", ALLOT_CAT_SOLVE}, {"calculate", ALLOT_CAT_SOLVE},
    {"compute", ALLOT_CAT_SOLVE}, {"derive", ALLOT_CAT_SOLVE}, {"equation", ALLOT_CAT_SOLVE},
    {"integral", ALLOT_CAT_SOLVE}, {"probability", ALLOT_CAT_SOLVE},
    {"puzzle", ALLOT_CAT_SOLVE}, {"riddle", ALLOT_CAT_SOLVE}, {"how many", ALLOT_CAT_SOLVE},
    {"find the value", ALLOT_CAT_SOLVE}, {"show that", ALLOT_CAT_SOLVE},
    {"step by step", ALLOT_CAT_SOLVE}, {"what caused", ALLOT_CAT_SOLVE},
    {"debug", ALLOT_CAT_SOLVE}, {"deadlock", ALLOT_CAT_SOLVE},
    /* scan */
    {"classify", ALLOT_CAT_SCAN}, {"categori*", ALLOT_CAT_SCAN}, {"label", ALLOT_CAT_SCAN},
    {"label each", ALLOT_CAT_SCAN}, {"tag", ALLOT_CAT_SCAN}, {"tag each", ALLOT_CAT_SCAN},
    {"flag", ALLOT_CAT_SCAN}, {"triage", ALLOT_CAT_SCAN}, {"relevant", ALLOT_CAT_SCAN},
    {"relevant or not", ALLOT_CAT_SCAN}, {"mark each", ALLOT_CAT_SCAN},
    {"mark which", ALLOT_CAT_SCAN}, {"for each", ALLOT_CAT_SCAN}, {"each of these", ALLOT_CAT_SCAN},
    {"screen", ALLOT_CAT_SCAN}, {"filter", ALLOT_CAT_SCAN}, {"spam", ALLOT_CAT_SCAN},
    {"sentiment", ALLOT_CAT_SCAN}, {"one per line", ALLOT_CAT_SCAN},
    {"sort these into", ALLOT_CAT_SCAN}, {"bucket", ALLOT_CAT_SCAN},
    {"which ones", ALLOT_CAT_SCAN}, {"per item", ALLOT_CAT_SCAN},
    /* extract */
    {"extract", ALLOT_CAT_EXTRACT}, {"list every", ALLOT_CAT_EXTRACT},
    {"list all", ALLOT_CAT_EXTRACT}, {"pull out", ALLOT_CAT_EXTRACT},
    {"pull the", ALLOT_CAT_EXTRACT}, {"find all", ALLOT_CAT_EXTRACT},
    {"find every", ALLOT_CAT_EXTRACT}, {"identify all", ALLOT_CAT_EXTRACT},
    {"as json", ALLOT_CAT_EXTRACT}, {"fields", ALLOT_CAT_EXTRACT},
    {"entities", ALLOT_CAT_EXTRACT}, {"fill in", ALLOT_CAT_EXTRACT},
    {"arguments", ALLOT_CAT_EXTRACT}, {"parse", ALLOT_CAT_EXTRACT},
    {"from this text", ALLOT_CAT_EXTRACT}, {"quote", ALLOT_CAT_EXTRACT},
    {"quotes", ALLOT_CAT_EXTRACT}, {"get me the", ALLOT_CAT_EXTRACT},
    {"dates", ALLOT_CAT_EXTRACT}, {"amounts", ALLOT_CAT_EXTRACT}, {"names", ALLOT_CAT_EXTRACT},
    {"mentioned", ALLOT_CAT_EXTRACT}, {"capture", ALLOT_CAT_EXTRACT},
    /* summarize */
    {"summari*", ALLOT_CAT_SUMMARIZE}, {"summary", ALLOT_CAT_SUMMARIZE},
    {"tl dr", ALLOT_CAT_SUMMARIZE}, {"tldr", ALLOT_CAT_SUMMARIZE},
    {"condense", ALLOT_CAT_SUMMARIZE}, {"key points", ALLOT_CAT_SUMMARIZE},
    {"bullet points", ALLOT_CAT_SUMMARIZE}, {"gist", ALLOT_CAT_SUMMARIZE},
    {"recap", ALLOT_CAT_SUMMARIZE}, {"shorten", ALLOT_CAT_SUMMARIZE},
    {"in a nutshell", ALLOT_CAT_SUMMARIZE}, {"in one sentence", ALLOT_CAT_SUMMARIZE},
    {"boil down", ALLOT_CAT_SUMMARIZE}, {"boil this down", ALLOT_CAT_SUMMARIZE},
    {"short version", ALLOT_CAT_SUMMARIZE}, {"catch me up", ALLOT_CAT_SUMMARIZE},
    {"abstract", ALLOT_CAT_SUMMARIZE}, {"highlights", ALLOT_CAT_SUMMARIZE},
    {"main points", ALLOT_CAT_SUMMARIZE}, {"overview of", ALLOT_CAT_SUMMARIZE},
    {"title for", ALLOT_CAT_SUMMARIZE},
    /* reformat */
    {"fix the grammar", ALLOT_CAT_REFORMAT}, {"grammar", ALLOT_CAT_REFORMAT},
    {"spelling", ALLOT_CAT_REFORMAT}, {"typos", ALLOT_CAT_REFORMAT},
    {"proofread", ALLOT_CAT_REFORMAT}, {"rewrite", ALLOT_CAT_REFORMAT},
    {"rephrase", ALLOT_CAT_REFORMAT}, {"reword", ALLOT_CAT_REFORMAT},
    {"paraphrase", ALLOT_CAT_REFORMAT}, {"reformat", ALLOT_CAT_REFORMAT},
    {"format this", ALLOT_CAT_REFORMAT}, {"clean up", ALLOT_CAT_REFORMAT},
    {"clean this", ALLOT_CAT_REFORMAT}, {"tidy", ALLOT_CAT_REFORMAT},
    {"polish", ALLOT_CAT_REFORMAT}, {"translat*", ALLOT_CAT_REFORMAT},
    {"into english", ALLOT_CAT_REFORMAT}, {"into french", ALLOT_CAT_REFORMAT},
    {"into spanish", ALLOT_CAT_REFORMAT}, {"into german", ALLOT_CAT_REFORMAT},
    {"numbered list", ALLOT_CAT_REFORMAT}, {"more formal", ALLOT_CAT_REFORMAT},
    {"more polite", ALLOT_CAT_REFORMAT}, {"more concise", ALLOT_CAT_REFORMAT},
    {"less formal", ALLOT_CAT_REFORMAT}, {"tone", ALLOT_CAT_REFORMAT},
    {"in the style of", ALLOT_CAT_REFORMAT}, {"strip", ALLOT_CAT_REFORMAT},
    {"simplify", ALLOT_CAT_REFORMAT}, {"plain english", ALLOT_CAT_REFORMAT},
    {"redact", ALLOT_CAT_REFORMAT}, {"punctuation", ALLOT_CAT_REFORMAT},
    /* convert */
    {"convert", ALLOT_CAT_CONVERT}, {"conversion", ALLOT_CAT_CONVERT},
    {"transform", ALLOT_CAT_CONVERT}, {"to json", ALLOT_CAT_CONVERT},
    {"to yaml", ALLOT_CAT_CONVERT}, {"to toml", ALLOT_CAT_CONVERT},
    {"to csv", ALLOT_CAT_CONVERT}, {"to xml", ALLOT_CAT_CONVERT},
    {"to markdown", ALLOT_CAT_CONVERT}, {"into json", ALLOT_CAT_CONVERT},
    {"into a table", ALLOT_CAT_CONVERT}, {"as a table", ALLOT_CAT_CONVERT},
    {"markdown table", ALLOT_CAT_CONVERT}, {"csv", ALLOT_CAT_CONVERT},
    {"schema", ALLOT_CAT_CONVERT}, {"map these", ALLOT_CAT_CONVERT},
    {"map each", ALLOT_CAT_CONVERT}, {"mapping", ALLOT_CAT_CONVERT},
    {"to metric", ALLOT_CAT_CONVERT}, {"units", ALLOT_CAT_CONVERT},
    {"template", ALLOT_CAT_CONVERT}, {"celsius", ALLOT_CAT_CONVERT},
    {"fahrenheit", ALLOT_CAT_CONVERT}, {"time zone", ALLOT_CAT_CONVERT},
    {"iso 0000", ALLOT_CAT_CONVERT}, {"turn this", ALLOT_CAT_CONVERT},
    {"turn these", ALLOT_CAT_CONVERT}, {"into a", ALLOT_CAT_CONVERT},
    /* collect */
    {"merge", ALLOT_CAT_COLLECT}, {"deduplicate", ALLOT_CAT_COLLECT},
    {"de duplicate", ALLOT_CAT_COLLECT}, {"dedupe", ALLOT_CAT_COLLECT},
    {"remove duplicates", ALLOT_CAT_COLLECT}, {"duplicates", ALLOT_CAT_COLLECT},
    {"compile", ALLOT_CAT_COLLECT}, {"compile a list", ALLOT_CAT_COLLECT},
    {"gather", ALLOT_CAT_COLLECT}, {"collect", ALLOT_CAT_COLLECT},
    {"combine", ALLOT_CAT_COLLECT}, {"consolidate", ALLOT_CAT_COLLECT},
    {"aggregate", ALLOT_CAT_COLLECT}, {"into one list", ALLOT_CAT_COLLECT},
    {"into a single", ALLOT_CAT_COLLECT}, {"one list", ALLOT_CAT_COLLECT},
    {"action items", ALLOT_CAT_COLLECT}, {"reading list", ALLOT_CAT_COLLECT},
    {"all the", ALLOT_CAT_COLLECT}, {"in one place", ALLOT_CAT_COLLECT},
    {"master list", ALLOT_CAT_COLLECT}, {"round up", ALLOT_CAT_COLLECT},
    /* answer */
    {"what is", ALLOT_CAT_ANSWER}, {"whats", ALLOT_CAT_ANSWER}, {"what are", ALLOT_CAT_ANSWER},
    {"what does", ALLOT_CAT_ANSWER}, {"who", ALLOT_CAT_ANSWER}, {"who is", ALLOT_CAT_ANSWER},
    {"when did", ALLOT_CAT_ANSWER}, {"when was", ALLOT_CAT_ANSWER},
    {"where is", ALLOT_CAT_ANSWER}, {"how do i", ALLOT_CAT_ANSWER},
    {"how does", ALLOT_CAT_ANSWER}, {"define", ALLOT_CAT_ANSWER},
    {"definition", ALLOT_CAT_ANSWER}, {"meaning of", ALLOT_CAT_ANSWER},
    {"stand for", ALLOT_CAT_ANSWER}, {"capital of", ALLOT_CAT_ANSWER},
    {"by default", ALLOT_CAT_ANSWER}, {"explain", ALLOT_CAT_ANSWER},
    {"explain how", ALLOT_CAT_ANSWER}, {"what year", ALLOT_CAT_ANSWER},
    {"quick question", ALLOT_CAT_ANSWER}, {"tell me about", ALLOT_CAT_ANSWER},
    {"can you tell me", ALLOT_CAT_ANSWER}, {"is there a", ALLOT_CAT_ANSWER},
    {"difference", ALLOT_CAT_ANSWER}, {"example of", ALLOT_CAT_ANSWER},
    /* compose */
    {"write an email", ALLOT_CAT_COMPOSE}, {"email", ALLOT_CAT_COMPOSE},
    {"write a letter", ALLOT_CAT_COMPOSE}, {"letter", ALLOT_CAT_COMPOSE},
    {"cover letter", ALLOT_CAT_COMPOSE}, {"write a post", ALLOT_CAT_COMPOSE},
    {"blog post", ALLOT_CAT_COMPOSE}, {"write a message", ALLOT_CAT_COMPOSE},
    {"draft", ALLOT_CAT_COMPOSE}, {"description", ALLOT_CAT_COMPOSE},
    {"announcement", ALLOT_CAT_COMPOSE}, {"announce", ALLOT_CAT_COMPOSE},
    {"tweet", ALLOT_CAT_COMPOSE}, {"linkedin", ALLOT_CAT_COMPOSE},
    {"reply to", ALLOT_CAT_COMPOSE}, {"thank you note", ALLOT_CAT_COMPOSE},
    {"slogan", ALLOT_CAT_COMPOSE}, {"story", ALLOT_CAT_COMPOSE}, {"poem", ALLOT_CAT_COMPOSE},
    {"song", ALLOT_CAT_COMPOSE}, {"lyrics", ALLOT_CAT_COMPOSE}, {"speech", ALLOT_CAT_COMPOSE},
    {"essay", ALLOT_CAT_COMPOSE}, {"write a", ALLOT_CAT_COMPOSE},
    {"release notes", ALLOT_CAT_COMPOSE}, {"newsletter", ALLOT_CAT_COMPOSE},
    {"invitation", ALLOT_CAT_COMPOSE}, {"caption", ALLOT_CAT_COMPOSE},
    {"headline", ALLOT_CAT_COMPOSE}, {"script for", ALLOT_CAT_COMPOSE},
    /* implement */
    {"write a function", ALLOT_CAT_IMPLEMENT}, {"function", ALLOT_CAT_IMPLEMENT},
    {"implement", ALLOT_CAT_IMPLEMENT}, {"refactor", ALLOT_CAT_IMPLEMENT},
    {"fix this bug", ALLOT_CAT_IMPLEMENT}, {"fix the bug", ALLOT_CAT_IMPLEMENT},
    {"fix this code", ALLOT_CAT_IMPLEMENT}, {"write a test", ALLOT_CAT_IMPLEMENT},
    {"unit test*", ALLOT_CAT_IMPLEMENT}, {"write a script", ALLOT_CAT_IMPLEMENT},
    {"script", ALLOT_CAT_IMPLEMENT}, {"write a program", ALLOT_CAT_IMPLEMENT},
    {"program", ALLOT_CAT_IMPLEMENT}, {"write a class", ALLOT_CAT_IMPLEMENT},
    {"write code", ALLOT_CAT_IMPLEMENT}, {"code", ALLOT_CAT_IMPLEMENT},
    {"add a method", ALLOT_CAT_IMPLEMENT}, {"port this", ALLOT_CAT_IMPLEMENT},
    {"python", ALLOT_CAT_IMPLEMENT}, {"javascript", ALLOT_CAT_IMPLEMENT},
    {"typescript", ALLOT_CAT_IMPLEMENT}, {"rust", ALLOT_CAT_IMPLEMENT},
    {"java", ALLOT_CAT_IMPLEMENT}, {"golang", ALLOT_CAT_IMPLEMENT},
    {"bash", ALLOT_CAT_IMPLEMENT}, {"sql", ALLOT_CAT_IMPLEMENT},
    {"regex", ALLOT_CAT_IMPLEMENT}, {"query", ALLOT_CAT_IMPLEMENT},
    {"api", ALLOT_CAT_IMPLEMENT}, {"endpoint", ALLOT_CAT_IMPLEMENT},
    {"compile error", ALLOT_CAT_IMPLEMENT}, {"failing test", ALLOT_CAT_IMPLEMENT},
    {"pull request", ALLOT_CAT_IMPLEMENT}, {"patch", ALLOT_CAT_IMPLEMENT},
    {"snippet", ALLOT_CAT_IMPLEMENT}, {"library", ALLOT_CAT_IMPLEMENT},
    {"dockerfile", ALLOT_CAT_IMPLEMENT}, {"add support for", ALLOT_CAT_IMPLEMENT},
};
/* clang-format on */
#define N_CUES (sizeof cues / sizeof cues[0])

/* An index: 2^bits slots, linear probing; a key is a 64-bit hash (never
 * 0, the empty slot) with its category beside it, in arrays of their own
 * so that a probe, which mostly misses, reads 8 bytes a slot. */
struct index {
    uint64_t *hash;
    int8_t *category;
    size_t mask;
};

/* Sized for the lexicon, under half full: 423 phrases, 313 distinct last
 * words, 19 stems (tests/unit/test_features.c checks that every stem
 * still matches). */
#define PHRASE_BITS 10
#define LAST_BITS 10
#define STEM_BITS 6
_Static_assert(N_CUES <= 1u << (PHRASE_BITS - 1), "the phrase index must stay under half full");
static uint64_t phrase_hash_ix[1u << PHRASE_BITS], last_hash_ix[1u << LAST_BITS],
    stem_hash_ix[1u << STEM_BITS];
static int8_t phrase_cat_ix[1u << PHRASE_BITS], last_cat_ix[1u << LAST_BITS],
    stem_cat_ix[1u << STEM_BITS];
static const struct index phrase_ix = {phrase_hash_ix, phrase_cat_ix, (1u << PHRASE_BITS) - 1};
/* the last words of all phrases, with the lengths of the phrases they end:
 * a word that ends none needs one probe */
static const struct index last_ix = {last_hash_ix, last_cat_ix, (1u << LAST_BITS) - 1};
static const struct index stem_ix = {stem_hash_ix, stem_cat_ix, (1u << STEM_BITS) - 1};
/* Filters that let most words skip the tables (a bit clear: no entry can
 * match; a bit set: look it up): one bit per pair of last two words of
 * the phrases of two words or more, and per four-byte start of the stems
 * of 4 to 10 bytes (a stem matches only a word that starts the same).
 * (Most words of any text end some phrase, "the" and "a" among them: a
 * filter of last words measured no better.) */
#define PAIR_BITS 12
#define STEM_START_BITS 9
static uint64_t pair_filter[(1u << PAIR_BITS) / 64], stem_filter[(1u << STEM_START_BITS) / 64];
static pthread_once_t once = PTHREAD_ONCE_INIT;
static atomic_int built; /* set once build() is done: no pthread_once call per word */

#define FNV64_BASIS 0xcbf29ce484222325ull
#define FNV64_PRIME 0x100000001b3ull
#define PHRASE_MUL 0x9e3779b97f4a7c15ull

uint64_t allot_cues_word_hash(const char *word, size_t len)
{
    uint64_t h = FNV64_BASIS;
    size_t i;
    for (i = 0; i < len; i++) {
        h ^= (unsigned char)word[i];
        h *= FNV64_PRIME;
    }
    return h | 1; /* never 0, the empty slot */
}

static uint64_t phrase_hash(const uint64_t *h, size_t n)
{
    uint64_t p = h[0];
    size_t i;
    for (i = 1; i < n; i++)
        p = (p ^ (p >> 29)) * PHRASE_MUL + h[i];
    return p | 1;
}

static void insert(const struct index *ix, uint64_t h, enum allot_category cat)
{
    size_t i = (size_t)(h >> 20) & ix->mask, probes = 0;
    while (ix->hash[i] != 0) {
        if (ix->hash[i] == h || ++probes > ix->mask)
            return; /* a duplicate phrase: the first entry stands (full: see the sizes) */
        i = (i + 1) & ix->mask;
    }
    ix->hash[i] = h;
    ix->category[i] = (int8_t)cat;
}

static int lookup(const struct index *ix, uint64_t h)
{
    size_t i = (size_t)(h >> 20) & ix->mask;
    while (ix->hash[i] != 0) {
        if (ix->hash[i] == h)
            return ix->category[i];
        i = (i + 1) & ix->mask;
    }
    return -1;
}

/* A last word's entry holds, instead of a category, the lengths of the
 * phrases it ends: bit k - 1 for k words. */
static void insert_last(uint64_t h, size_t k)
{
    size_t i = (size_t)(h >> 20) & last_ix.mask;
    while (last_ix.hash[i] != 0 && last_ix.hash[i] != h)
        i = (i + 1) & last_ix.mask; /* never full: see the sizes */
    last_ix.hash[i] = h;
    last_ix.category[i] = (int8_t)(last_ix.category[i] | 1 << (k - 1));
}

static unsigned pair_bit(uint64_t before, uint64_t last)
{
    return (unsigned)(((before ^ (before >> 29)) * PHRASE_MUL + last) >> (64 - PAIR_BITS));
}

static unsigned stem_bit(const char *w)
{
    uint32_t start;
    memcpy(&start, w, 4);
    return (start * 0x9e3779b1u) >> (32 - STEM_START_BITS);
}

static int has_bit(const uint64_t *filter, unsigned bit)
{
    return (int)(filter[bit >> 6] >> (bit & 63) & 1);
}

static void set_bit(uint64_t *filter, unsigned bit)
{
    filter[bit >> 6] |= 1ull << (bit & 63);
}

/* Split a phrase into words and hash it as features.c's words will be. */
static void build(void)
{
    size_t i;
    for (i = 0; i < N_CUES; i++) {
        const char *t = cues[i].text;
        size_t n = strlen(t), k = 0, start = 0, j;
        uint64_t h[ALLOT_CUE_WORDS];
        if (n > 0 && t[n - 1] == '*') {
            insert(&stem_ix, allot_cues_word_hash(t, n - 1), cues[i].category);
            if (n - 1 >= STEM_MIN && n - 1 <= STEM_MAX) /* the others match nothing */
                set_bit(stem_filter, stem_bit(t));
            continue;
        }
        for (j = 0; j <= n && k < ALLOT_CUE_WORDS; j++) {
            if (j == n || t[j] == ' ') {
                h[k++] = allot_cues_word_hash(t + start, j - start);
                start = j + 1;
            }
        }
        insert(&phrase_ix, phrase_hash(h, k), cues[i].category);
        insert_last(h[k - 1], k);
        if (k >= 2)
            set_bit(pair_filter, pair_bit(h[k - 2], h[k - 1]));
    }
    atomic_store_explicit(&built, 1, memory_order_release);
}

/* The stem that begins word (newest_len >= STEM_MIN), longest first: the
 * hashes of its prefixes (allot_cues_word_hash of each) taken in one
 * pass. Apart from allot_cues_match(), which most words leave before
 * this, so that its own entry stays light. */
static __attribute__((noinline)) int stem_match(const char *word, size_t len, size_t *used)
{
    uint64_t prefix[STEM_MAX + 1], h = FNV64_BASIS;
    size_t p, lim = len < STEM_MAX ? len : STEM_MAX;
    int cat;

    for (p = 0; p < lim; p++) {
        h ^= (unsigned char)word[p];
        h *= FNV64_PRIME;
        prefix[p + 1] = h | 1;
    }
    for (p = lim; p >= STEM_MIN; p--) {
        if ((cat = lookup(&stem_ix, prefix[p])) >= 0) {
            *used = 1;
            return cat;
        }
    }
    return -1;
}

int allot_cues_match(const uint64_t *hashes, size_t n, const char *newest, size_t newest_len,
                     size_t *used)
{
    int cat, lengths;

    if (!atomic_load_explicit(&built, memory_order_acquire))
        pthread_once(&once, build);
    if (n > ALLOT_CUE_WORDS)
        n = ALLOT_CUE_WORDS;
    /* the phrases that end with the newest word, longest first; only the
     * lengths some phrase has are looked up, and those of two words or
     * more only when some phrase ends with the last two words */
    lengths = lookup(&last_ix, hashes[n - 1]);
    if (lengths < 0)
        lengths = 0;
    lengths &= (1 << n) - 1;
    if (lengths > 1 && !has_bit(pair_filter, pair_bit(hashes[n - 2], hashes[n - 1])))
        lengths &= 1;
    while (lengths) {
        size_t k = (size_t)(32 - __builtin_clz((unsigned)lengths));
        lengths &= ~(1 << (k - 1));
        if ((cat = lookup(&phrase_ix, phrase_hash(hashes + (n - k), k))) >= 0) {
            *used = k;
            return cat;
        }
    }
    if (newest_len < STEM_MIN || !has_bit(stem_filter, stem_bit(newest)))
        return -1;
    return stem_match(newest, newest_len, used);
}

size_t allot_cues_count(void)
{
    return N_CUES;
}

const char *allot_cues_entry(size_t i, int *category)
{
    *category = (int)cues[i].category;
    return cues[i].text;
}
