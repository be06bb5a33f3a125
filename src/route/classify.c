/* classify.c: the rule classifier of kind of work (../shared/KINDS.md).
 *
 * A transparent rule set, kept simple on purpose: issue 3 replaces it with a
 * learned model behind classify.h. It reads only the instruction, never the
 * material: at most the first HEAD_MAX and last TAIL_MAX bytes of the last
 * user turn and the first SYSTEM_MAX bytes of the system prompt, so the
 * cost is O(1) in request size.
 *
 * How a request is scored:
 *  1. The text is normalized into a stack buffer: ASCII lower case, runs of
 *     blanks folded to one space, typographic quotes and dashes to ASCII,
 *     and the insides of ``` code fences dropped (code is material).
 *  2. Each cue phrase of the table below is matched at word starts (and
 *     word ends, unless it is a stem such as "summari"). A match is worth
 *     the cue's weight, times
 *       1.5  at the start of a sentence or after a lead-in ("please",
 *            "can you", "then", "to"): an imperative asks for that work;
 *       0.3  for a verb-like cue after a determiner ("this plan", "the
 *            review"): a noun names the topic, not the work;
 *       0.2  in material: outside the instruction zones of the user turn
 *            (a short first and a short last paragraph; or, without
 *            paragraphs, all of a short turn and POS_EDGE bytes at each end
 *            of a long one); all material cues together add at most
 *            MATERIAL_CAP to a category, so a pasted document full of topic
 *            words cannot outvote the instruction;
 *       0.5  in the system prompt.
 *     Each cue counts once, at its best match, so material that repeats a
 *     topic word cannot pile up score.
 *  3. A few structural signals add to the score: a short question
 *     (answer), a code fence (implement), maths symbols (solve), tool
 *     definitions (decide: which tool next), a response_format (extract).
 *  4. "The strongest kind of work wins" (KINDS.md): when both a labour
 *     category and a judgment or code category scored, the latter scores
 *     are multiplied by STRONG_PREFERENCE, so "summarise, then tell me
 *     which option to pick" is decide unless the decide cues are much
 *     weaker than the summarise ones.
 *  5. Confidence is the softmax of the scores at temperature TEMPERATURE
 *     over all 16 categories; categories without a cue keep weight e^0, so
 *     one weak cue stays below the usual 0.5 threshold and the default tier
 *     serves, while one strong imperative cue gives about 0.9.
 *
 * Speed matters (the gateway adds only tens of microseconds per request):
 * each window is normalized in one pass, 16 bytes at a time where nothing
 * needs deciding, and each of its words costs one or two lookups in a cue
 * index (see "the cue index" below) instead of a walk of the cue table.
 * The results are exactly those of matching every cue at every word.
 *
 * DESIGN: nothing is allocated and the buffers are on the stack. The only
 * state is the cue index, built once on first use (pthread_once) and only
 * read afterwards, so allot_classify() is thread-safe without locks. */
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "allot/chat_request.h"
#include "allot/classify.h"

#define HEAD_MAX 2048   /* bytes of the last user turn read from its start */
#define TAIL_MAX 512    /* ... and from its end, when it is longer */
#define SYSTEM_MAX 1024 /* bytes of the system prompt read */
#define POS_EDGE 300    /* without paragraphs: the zones at either end */
#define ZONE_MAX 400    /* longest paragraph taken for an instruction */
#define SYSTEM_FACTOR 0.5
#define MATERIAL_FACTOR 0.2
#define MATERIAL_CAP 1.0 /* most that material cues add to a category */
#define QUOTE_MAX 24     /* bytes of a cue quoted in the reason */
#define SHORT_QUESTION 200
#define TEMPERATURE 0.8
#define STRONG_PREFERENCE 1.6
#define SCORE_MAX 40.0

#define F_STEM 1 /* matches a word prefix: "summari" finds "summarise" */
#define F_VERB 2 /* a verb that doubles as a noun: weak after "the", "this" */

struct cue {
    const char *text; /* lower case; ' ' matches any blank or newline */
    enum allot_category category;
    double weight;
    int flags;
};

/* Weights: 3-3.5 a cue that names the work, 2-2.5 a good hint, 1-1.5 a
 * weak hint (topic words such as "security" belong here). */
static const struct cue cues[] = {
    /* plan */
    {"plan", ALLOT_CAT_PLAN, 2.5, F_VERB},
    {"plan out", ALLOT_CAT_PLAN, 3, 0},
    {"write a plan", ALLOT_CAT_PLAN, 3, 0},
    {"make a plan", ALLOT_CAT_PLAN, 3, 0},
    {"create a plan", ALLOT_CAT_PLAN, 3, 0},
    {"draft a plan", ALLOT_CAT_PLAN, 3.5, 0},
    {"a plan for", ALLOT_CAT_PLAN, 2.5, 0},
    {"steps to", ALLOT_CAT_PLAN, 2.5, 0},
    {"outline the steps", ALLOT_CAT_PLAN, 3, 0},
    {"roadmap", ALLOT_CAT_PLAN, 2.5, 0},
    {"break down", ALLOT_CAT_PLAN, 2.5, 0},
    {"break this down", ALLOT_CAT_PLAN, 3, 0},
    {"break it down", ALLOT_CAT_PLAN, 3, 0},
    {"how should we approach", ALLOT_CAT_PLAN, 3, 0},
    {"how should i approach", ALLOT_CAT_PLAN, 3, 0},
    {"what should we do next", ALLOT_CAT_PLAN, 3, 0},
    {"what should i do next", ALLOT_CAT_PLAN, 3, 0},
    {"next steps", ALLOT_CAT_PLAN, 2, 0},
    {"milestones", ALLOT_CAT_PLAN, 2, 0},
    {"strategy for", ALLOT_CAT_PLAN, 2, 0},
    {"sequence", ALLOT_CAT_PLAN, 1.5, F_VERB},
    /* decide */
    {"which should", ALLOT_CAT_DECIDE, 3, 0},
    {"which of", ALLOT_CAT_DECIDE, 2.5, 0},
    {"which one", ALLOT_CAT_DECIDE, 2.5, 0},
    {"which option", ALLOT_CAT_DECIDE, 3, 0},
    {"which tool", ALLOT_CAT_DECIDE, 3, 0},
    {"which library", ALLOT_CAT_DECIDE, 2.5, 0},
    {"should we", ALLOT_CAT_DECIDE, 2, 0},
    {"should i", ALLOT_CAT_DECIDE, 2, 0},
    {"choose", ALLOT_CAT_DECIDE, 2.5, 0},
    {"pick", ALLOT_CAT_DECIDE, 2.5, F_VERB},
    {"recommend one", ALLOT_CAT_DECIDE, 3, 0},
    {"select the best", ALLOT_CAT_DECIDE, 3, 0},
    {"best option", ALLOT_CAT_DECIDE, 2.5, 0},
    {"decid", ALLOT_CAT_DECIDE, 2.5, F_STEM},
    {"prioriti", ALLOT_CAT_DECIDE, 2, F_STEM},
    {"go with", ALLOT_CAT_DECIDE, 1.5, 0},
    {"route this", ALLOT_CAT_DECIDE, 2, 0},
    /* review */
    {"review", ALLOT_CAT_REVIEW, 3, F_VERB},
    {"reviewer", ALLOT_CAT_REVIEW, 2, 0},
    {"code review", ALLOT_CAT_REVIEW, 3, 0},
    {"critique", ALLOT_CAT_REVIEW, 3, F_VERB},
    {"grade", ALLOT_CAT_REVIEW, 3, F_VERB},
    {"is this correct", ALLOT_CAT_REVIEW, 3, 0},
    {"is it correct", ALLOT_CAT_REVIEW, 3, 0},
    {"is this right", ALLOT_CAT_REVIEW, 3, 0},
    {"is this answer", ALLOT_CAT_REVIEW, 3, 0},
    {"correct", ALLOT_CAT_REVIEW, 1, 0},
    {"verify", ALLOT_CAT_REVIEW, 2.5, 0},
    {"check this answer", ALLOT_CAT_REVIEW, 3, 0},
    {"check the answer", ALLOT_CAT_REVIEW, 3, 0},
    {"check my", ALLOT_CAT_REVIEW, 2, 0},
    {"check whether", ALLOT_CAT_REVIEW, 2, 0},
    {"check if", ALLOT_CAT_REVIEW, 2, 0},
    {"evaluate", ALLOT_CAT_REVIEW, 2.5, 0},
    {"assess", ALLOT_CAT_REVIEW, 2.5, 0},
    {"score this", ALLOT_CAT_REVIEW, 2.5, 0},
    {"rate this", ALLOT_CAT_REVIEW, 2.5, 0},
    {"feedback on", ALLOT_CAT_REVIEW, 2.5, 0},
    {"audit this", ALLOT_CAT_REVIEW, 3, 0},
    {"audit the", ALLOT_CAT_REVIEW, 2.5, 0},
    {"find bugs", ALLOT_CAT_REVIEW, 2.5, 0},
    {"any mistakes", ALLOT_CAT_REVIEW, 2.5, 0},
    {"good enough", ALLOT_CAT_REVIEW, 2.5, 0},
    {"rubric", ALLOT_CAT_REVIEW, 2, 0},
    /* risk */
    {"what could go wrong", ALLOT_CAT_RISK, 3.5, 0},
    {"what could break", ALLOT_CAT_RISK, 3, 0},
    {"what can go wrong", ALLOT_CAT_RISK, 3.5, 0},
    {"risk", ALLOT_CAT_RISK, 2.5, F_STEM | F_VERB},
    {"is it safe", ALLOT_CAT_RISK, 3.5, 0},
    {"is this safe", ALLOT_CAT_RISK, 3.5, 0},
    {"safe to", ALLOT_CAT_RISK, 3, 0},
    {"secure enough", ALLOT_CAT_RISK, 3.5, 0},
    {"failure mode", ALLOT_CAT_RISK, 3, F_STEM},
    {"threat model", ALLOT_CAT_RISK, 3, F_STEM},
    {"pitfalls", ALLOT_CAT_RISK, 2.5, 0},
    {"vulnerab", ALLOT_CAT_RISK, 2, F_STEM},
    {"danger", ALLOT_CAT_RISK, 2, F_STEM},
    {"liabilit", ALLOT_CAT_RISK, 2, F_STEM},
    {"legal issue", ALLOT_CAT_RISK, 2, F_STEM},
    {"compliance", ALLOT_CAT_RISK, 1.5, 0},
    {"exploit", ALLOT_CAT_RISK, 1.5, F_STEM},
    {"secur", ALLOT_CAT_RISK, 1, F_STEM}, /* a topic word: weak on its own */
    {"attack", ALLOT_CAT_RISK, 1, F_STEM},
    /* tradeoff */
    {"compare", ALLOT_CAT_TRADEOFF, 3, 0},
    {"comparison", ALLOT_CAT_TRADEOFF, 2, 0},
    {"pros and cons", ALLOT_CAT_TRADEOFF, 3.5, 0},
    {"pros/cons", ALLOT_CAT_TRADEOFF, 3.5, 0},
    {"advantages and disadvantages", ALLOT_CAT_TRADEOFF, 3.5, 0},
    {"tradeoff", ALLOT_CAT_TRADEOFF, 3, F_STEM},
    {"trade-off", ALLOT_CAT_TRADEOFF, 3, F_STEM},
    {"trade off", ALLOT_CAT_TRADEOFF, 3, F_STEM},
    {"versus", ALLOT_CAT_TRADEOFF, 2, 0},
    {"vs", ALLOT_CAT_TRADEOFF, 2, 0},
    {"weigh", ALLOT_CAT_TRADEOFF, 2.5, 0},
    {"which is better", ALLOT_CAT_TRADEOFF, 2.5, 0},
    {"difference between", ALLOT_CAT_TRADEOFF, 1, 0},
    /* synthesize */
    {"briefing", ALLOT_CAT_SYNTHESIZE, 3, 0},
    {"brief me", ALLOT_CAT_SYNTHESIZE, 3, 0},
    {"from these", ALLOT_CAT_SYNTHESIZE, 2.5, 0},
    {"across these", ALLOT_CAT_SYNTHESIZE, 2, 0},
    {"what matters", ALLOT_CAT_SYNTHESIZE, 3, 0},
    {"what really", ALLOT_CAT_SYNTHESIZE, 2, 0},
    {"what changed", ALLOT_CAT_SYNTHESIZE, 2, 0},
    {"overall", ALLOT_CAT_SYNTHESIZE, 1.5, 0},
    {"synthesi", ALLOT_CAT_SYNTHESIZE, 3, F_STEM},
    {"signal from noise", ALLOT_CAT_SYNTHESIZE, 3, 0},
    {"signal vs noise", ALLOT_CAT_SYNTHESIZE, 3, 0},
    {"draw conclusions", ALLOT_CAT_SYNTHESIZE, 3, 0},
    {"conclusions", ALLOT_CAT_SYNTHESIZE, 2, 0},
    {"big picture", ALLOT_CAT_SYNTHESIZE, 2.5, 0},
    {"executive summary", ALLOT_CAT_SYNTHESIZE, 2, 0},
    /* solve */
    {"prove", ALLOT_CAT_SOLVE, 3, 0},
    {"proof", ALLOT_CAT_SOLVE, 2, 0},
    {"why does", ALLOT_CAT_SOLVE, 3, 0},
    {"why do", ALLOT_CAT_SOLVE, 2, 0},
    {"why is", ALLOT_CAT_SOLVE, 2, 0},
    {"explain why", ALLOT_CAT_SOLVE, 2.5, 0},
    {"root cause", ALLOT_CAT_SOLVE, 3.5, 0},
    {"figure out why", ALLOT_CAT_SOLVE, 3, 0},
    {"diagnose", ALLOT_CAT_SOLVE, 3, 0},
    {"solve", ALLOT_CAT_SOLVE, 3, 0},
    {"calculate", ALLOT_CAT_SOLVE, 2.5, 0},
    {"compute", ALLOT_CAT_SOLVE, 2, 0},
    {"derive", ALLOT_CAT_SOLVE, 3, 0},
    {"equation", ALLOT_CAT_SOLVE, 2, F_STEM},
    {"integral", ALLOT_CAT_SOLVE, 2, F_STEM},
    {"probability", ALLOT_CAT_SOLVE, 1.5, 0},
    {"puzzle", ALLOT_CAT_SOLVE, 2, 0},
    {"deadlock", ALLOT_CAT_SOLVE, 1.5, 0},
    {"race condition", ALLOT_CAT_SOLVE, 1.5, 0},
    {"debug", ALLOT_CAT_SOLVE, 2, 0},
    /* scan */
    {"classify", ALLOT_CAT_SCAN, 3, 0},
    {"categori", ALLOT_CAT_SCAN, 3, F_STEM},
    {"label", ALLOT_CAT_SCAN, 2.5, F_VERB},
    {"tag", ALLOT_CAT_SCAN, 2, F_VERB},
    {"flag", ALLOT_CAT_SCAN, 2.5, F_VERB},
    {"triage", ALLOT_CAT_SCAN, 3, F_VERB},
    {"relevant or not", ALLOT_CAT_SCAN, 3.5, 0},
    {"is relevant", ALLOT_CAT_SCAN, 2, 0},
    {"mark each", ALLOT_CAT_SCAN, 3.5, 0},
    {"mark which", ALLOT_CAT_SCAN, 3, 0},
    {"each of these", ALLOT_CAT_SCAN, 1.5, 0},
    {"screen", ALLOT_CAT_SCAN, 2, F_VERB},
    {"filter", ALLOT_CAT_SCAN, 2, F_VERB},
    {"spam or not", ALLOT_CAT_SCAN, 3, 0},
    {"sentiment", ALLOT_CAT_SCAN, 2, 0},
    /* extract */
    {"extract", ALLOT_CAT_EXTRACT, 3, F_VERB},
    {"list every", ALLOT_CAT_EXTRACT, 3, 0},
    {"list all", ALLOT_CAT_EXTRACT, 3, 0},
    {"pull out", ALLOT_CAT_EXTRACT, 3, 0},
    {"find all", ALLOT_CAT_EXTRACT, 2.5, 0},
    {"find every", ALLOT_CAT_EXTRACT, 2.5, 0},
    {"identify all", ALLOT_CAT_EXTRACT, 2.5, 0},
    {"as json", ALLOT_CAT_EXTRACT, 2, 0},
    {"fields", ALLOT_CAT_EXTRACT, 1.5, 0},
    {"entities", ALLOT_CAT_EXTRACT, 2.5, 0},
    {"fill in", ALLOT_CAT_EXTRACT, 2, 0},
    {"arguments", ALLOT_CAT_EXTRACT, 1.5, 0},
    {"parse", ALLOT_CAT_EXTRACT, 2, F_VERB},
    {"from this text", ALLOT_CAT_EXTRACT, 1.5, 0},
    {"quotes", ALLOT_CAT_EXTRACT, 1.5, 0},
    /* summarize */
    {"summari", ALLOT_CAT_SUMMARIZE, 3.5, F_STEM | F_VERB},
    {"summary", ALLOT_CAT_SUMMARIZE, 3, 0},
    {"tl;dr", ALLOT_CAT_SUMMARIZE, 3.5, 0},
    {"tldr", ALLOT_CAT_SUMMARIZE, 3.5, 0},
    {"condense", ALLOT_CAT_SUMMARIZE, 3, 0},
    {"key points", ALLOT_CAT_SUMMARIZE, 3, 0},
    {"bullet points", ALLOT_CAT_SUMMARIZE, 2.5, 0},
    {"gist", ALLOT_CAT_SUMMARIZE, 2.5, 0},
    {"recap", ALLOT_CAT_SUMMARIZE, 2.5, F_VERB},
    {"shorten", ALLOT_CAT_SUMMARIZE, 2.5, 0},
    {"in a nutshell", ALLOT_CAT_SUMMARIZE, 2, 0},
    {"in one sentence", ALLOT_CAT_SUMMARIZE, 1.5, 0},
    /* reformat */
    {"fix the grammar", ALLOT_CAT_REFORMAT, 3.5, 0},
    {"grammar", ALLOT_CAT_REFORMAT, 2, 0},
    {"spelling", ALLOT_CAT_REFORMAT, 2, 0},
    {"typos", ALLOT_CAT_REFORMAT, 2.5, 0},
    {"proofread", ALLOT_CAT_REFORMAT, 3, 0},
    {"rewrite", ALLOT_CAT_REFORMAT, 2.5, F_VERB},
    {"rephrase", ALLOT_CAT_REFORMAT, 3, 0},
    {"paraphrase", ALLOT_CAT_REFORMAT, 3, 0},
    {"reformat", ALLOT_CAT_REFORMAT, 3, 0},
    {"format this", ALLOT_CAT_REFORMAT, 2.5, 0},
    {"clean up", ALLOT_CAT_REFORMAT, 3, 0},
    {"clean this", ALLOT_CAT_REFORMAT, 3, 0},
    {"polish", ALLOT_CAT_REFORMAT, 2.5, 0},
    {"translate", ALLOT_CAT_REFORMAT, 3, 0},
    {"into english", ALLOT_CAT_REFORMAT, 2.5, 0},
    {"into french", ALLOT_CAT_REFORMAT, 2.5, 0},
    {"into spanish", ALLOT_CAT_REFORMAT, 2.5, 0},
    {"into german", ALLOT_CAT_REFORMAT, 2.5, 0},
    {"numbered list", ALLOT_CAT_REFORMAT, 2, 0},
    {"more formal", ALLOT_CAT_REFORMAT, 2.5, 0},
    {"more concise", ALLOT_CAT_REFORMAT, 2, 0},
    {"in the style of", ALLOT_CAT_REFORMAT, 2.5, 0},
    {"strip", ALLOT_CAT_REFORMAT, 2, F_VERB},
    /* convert */
    {"convert", ALLOT_CAT_CONVERT, 3, F_VERB},
    {"transform", ALLOT_CAT_CONVERT, 2.5, F_VERB},
    {"csv to json", ALLOT_CAT_CONVERT, 3.5, 0},
    {"to json", ALLOT_CAT_CONVERT, 2, 0},
    {"to yaml", ALLOT_CAT_CONVERT, 3, 0},
    {"to toml", ALLOT_CAT_CONVERT, 3, 0},
    {"to csv", ALLOT_CAT_CONVERT, 3, 0},
    {"to xml", ALLOT_CAT_CONVERT, 3, 0},
    {"to markdown", ALLOT_CAT_CONVERT, 2.5, 0},
    {"into a table", ALLOT_CAT_CONVERT, 2.5, 0},
    {"schema", ALLOT_CAT_CONVERT, 1.5, F_STEM},
    {"map these", ALLOT_CAT_CONVERT, 3, 0},
    {"map each", ALLOT_CAT_CONVERT, 2.5, 0},
    {"to metric", ALLOT_CAT_CONVERT, 2.5, 0},
    {"units", ALLOT_CAT_CONVERT, 1.5, 0},
    {"template", ALLOT_CAT_CONVERT, 1.5, 0},
    /* collect */
    {"merge", ALLOT_CAT_COLLECT, 3, F_VERB},
    {"deduplicate", ALLOT_CAT_COLLECT, 3.5, 0},
    {"de-duplicate", ALLOT_CAT_COLLECT, 3.5, 0},
    {"dedupe", ALLOT_CAT_COLLECT, 3, 0},
    {"remove duplicates", ALLOT_CAT_COLLECT, 3.5, 0},
    {"compile a list", ALLOT_CAT_COLLECT, 3.5, 0},
    {"gather", ALLOT_CAT_COLLECT, 3, 0},
    {"collect", ALLOT_CAT_COLLECT, 2.5, 0},
    {"combine these", ALLOT_CAT_COLLECT, 3.5, 0},
    {"combine", ALLOT_CAT_COLLECT, 2, 0},
    {"consolidate", ALLOT_CAT_COLLECT, 3, 0},
    {"aggregate", ALLOT_CAT_COLLECT, 2.5, F_VERB},
    {"into one list", ALLOT_CAT_COLLECT, 3, 0},
    {"into a single", ALLOT_CAT_COLLECT, 2.5, 0},
    {"action items", ALLOT_CAT_COLLECT, 2, 0},
    /* answer */
    {"what is", ALLOT_CAT_ANSWER, 2, 0},
    {"what's", ALLOT_CAT_ANSWER, 2, 0},
    {"what are", ALLOT_CAT_ANSWER, 1.5, 0},
    {"what does", ALLOT_CAT_ANSWER, 2, 0},
    {"what port", ALLOT_CAT_ANSWER, 3, 0},
    {"what year", ALLOT_CAT_ANSWER, 2.5, 0},
    {"who", ALLOT_CAT_ANSWER, 1.5, 0},
    {"when did", ALLOT_CAT_ANSWER, 2, 0},
    {"when was", ALLOT_CAT_ANSWER, 2, 0},
    {"when is", ALLOT_CAT_ANSWER, 2, 0},
    {"where is", ALLOT_CAT_ANSWER, 2, 0},
    {"how many", ALLOT_CAT_ANSWER, 2, 0},
    {"how much", ALLOT_CAT_ANSWER, 1.5, 0},
    {"how do i", ALLOT_CAT_ANSWER, 1.5, 0},
    {"define", ALLOT_CAT_ANSWER, 2.5, 0},
    {"definition of", ALLOT_CAT_ANSWER, 2.5, 0},
    {"meaning of", ALLOT_CAT_ANSWER, 2, 0},
    {"stand for", ALLOT_CAT_ANSWER, 2.5, 0},
    {"capital of", ALLOT_CAT_ANSWER, 3, 0},
    {"by default", ALLOT_CAT_ANSWER, 1, 0},
    {"explain", ALLOT_CAT_ANSWER, 1.5, 0},
    {"explain how", ALLOT_CAT_ANSWER, 2, 0},
    /* compose */
    {"write an email", ALLOT_CAT_COMPOSE, 3.5, 0},
    {"email", ALLOT_CAT_COMPOSE, 2, 0},
    {"write a letter", ALLOT_CAT_COMPOSE, 3.5, 0},
    {"cover letter", ALLOT_CAT_COMPOSE, 3, 0},
    {"write a post", ALLOT_CAT_COMPOSE, 3.5, 0},
    {"blog post", ALLOT_CAT_COMPOSE, 2.5, 0},
    {"write a message", ALLOT_CAT_COMPOSE, 3, 0},
    {"write a short", ALLOT_CAT_COMPOSE, 2, 0},
    {"write a paragraph", ALLOT_CAT_COMPOSE, 2.5, 0},
    {"draft", ALLOT_CAT_COMPOSE, 3, F_VERB},
    {"description", ALLOT_CAT_COMPOSE, 2, 0},
    {"announcement", ALLOT_CAT_COMPOSE, 2.5, 0},
    {"tweet", ALLOT_CAT_COMPOSE, 2.5, 0},
    {"linkedin", ALLOT_CAT_COMPOSE, 2, 0},
    {"reply to", ALLOT_CAT_COMPOSE, 2, 0},
    {"thank-you note", ALLOT_CAT_COMPOSE, 3, 0},
    {"slogan", ALLOT_CAT_COMPOSE, 2.5, 0},
    {"polite", ALLOT_CAT_COMPOSE, 1.5, 0},
    {"write", ALLOT_CAT_COMPOSE, 1, 0},
    /* implement */
    {"write a function", ALLOT_CAT_IMPLEMENT, 3.5, 0},
    {"function that", ALLOT_CAT_IMPLEMENT, 2.5, 0},
    {"function", ALLOT_CAT_IMPLEMENT, 1.5, 0},
    {"c function", ALLOT_CAT_IMPLEMENT, 3, 0},
    {"python function", ALLOT_CAT_IMPLEMENT, 3, 0},
    {"implement", ALLOT_CAT_IMPLEMENT, 3.5, F_VERB},
    {"refactor", ALLOT_CAT_IMPLEMENT, 3.5, F_VERB},
    {"fix this bug", ALLOT_CAT_IMPLEMENT, 3.5, 0},
    {"fix the bug", ALLOT_CAT_IMPLEMENT, 3.5, 0},
    {"fix the failing", ALLOT_CAT_IMPLEMENT, 3, 0},
    {"fix this code", ALLOT_CAT_IMPLEMENT, 3.5, 0},
    {"fix this", ALLOT_CAT_IMPLEMENT, 1.5, 0},
    {"write a test", ALLOT_CAT_IMPLEMENT, 3, F_STEM},
    {"unit test", ALLOT_CAT_IMPLEMENT, 3, F_STEM},
    {"write a script", ALLOT_CAT_IMPLEMENT, 3, 0},
    {"write a program", ALLOT_CAT_IMPLEMENT, 3, 0},
    {"write a class", ALLOT_CAT_IMPLEMENT, 3, 0},
    {"write code", ALLOT_CAT_IMPLEMENT, 3, 0},
    {"add a method", ALLOT_CAT_IMPLEMENT, 3, 0},
    {"port this", ALLOT_CAT_IMPLEMENT, 3, 0},
    {"in python", ALLOT_CAT_IMPLEMENT, 2.5, 0},
    {"in c", ALLOT_CAT_IMPLEMENT, 2, 0},
    {"in c++", ALLOT_CAT_IMPLEMENT, 2.5, 0},
    {"in rust", ALLOT_CAT_IMPLEMENT, 2.5, 0},
    {"in go", ALLOT_CAT_IMPLEMENT, 1.5, 0},
    {"in javascript", ALLOT_CAT_IMPLEMENT, 2.5, 0},
    {"in typescript", ALLOT_CAT_IMPLEMENT, 2.5, 0},
    {"in java", ALLOT_CAT_IMPLEMENT, 2.5, 0},
    {"in bash", ALLOT_CAT_IMPLEMENT, 2.5, 0},
    {"to python", ALLOT_CAT_IMPLEMENT, 3, 0},
    {"to rust", ALLOT_CAT_IMPLEMENT, 3, 0},
    {"to typescript", ALLOT_CAT_IMPLEMENT, 3, 0},
    {"to javascript", ALLOT_CAT_IMPLEMENT, 3, 0},
    {"python", ALLOT_CAT_IMPLEMENT, 1, 0},
    {"regex", ALLOT_CAT_IMPLEMENT, 2, 0},
    {"sql query", ALLOT_CAT_IMPLEMENT, 2.5, 0},
    {"compile error", ALLOT_CAT_IMPLEMENT, 2.5, 0},
    {"failing test", ALLOT_CAT_IMPLEMENT, 2.5, 0},
    {"code", ALLOT_CAT_IMPLEMENT, 1, 0},
};

#define N_CUES (sizeof cues / sizeof cues[0])

/* Words after which a cue starts an imperative: "please review", "can you
 * summarise", "then pick", "I need you to plan". */
static const char *const lead_ins[] = {"please", "pls",   "kindly", "then",    "and",   "now",
                                       "also",   "first", "next",   "finally", "just",  "you",
                                       "me",     "us",    "to",     "so",      "lastly"};
/* Words after which a verb-like cue is a noun: "this plan", "the review". */
static const char *const determiners[] = {"the",  "this",  "that", "these", "those", "a",   "an",
                                          "our",  "my",    "your", "their", "its",   "his", "her",
                                          "of",   "for",   "in",   "on",    "with",  "by",  "per",
                                          "each", "every", "any",  "some",  "no"};

/* ---- the cue index ----
 *
 * Trying every cue at every word is what made this slow, so the cues are
 * indexed by the words they start with, and each word of the text costs
 * one or two hash probes:
 *   - a one-word cue ("review") under the word itself;
 *   - a cue of two or more words ("which option", "tl;dr", "write a test")
 *     under its first two words and the one byte between them, probed with
 *     each pair of adjacent words of the text;
 *   - a one-word stem ("summari") under its first four bytes, probed with
 *     the first four bytes of each word of at least four;
 *   - the few cues that fit none of these (a stem whose last word is the
 *     stem, "failure mode") under their first word.
 * Every candidate is then compared in full, so the index only has to be
 * fast, not exact. The word table also marks determiners and lead-ins,
 * which set the context factor of the word after them.
 *
 * The tables are two-choice cuckoo hashes (a key sits in one of two slots,
 * so a lookup is two compares and no loop), built once on first use under
 * pthread_once from the static tables above, and only read afterwards:
 * classification stays lock-free and thread-safe. */

#define KEY_MAX 16   /* longest word the word table holds: two 64-bit loads */
#define TEXT_PAD 64  /* zero bytes after a normalized text: whole-block reads */
#define WORD_BITS 10 /* word table: 1024 slots for ~220 keys */
#define PAIR_BITS 9  /* two-word table: 512 slots for ~170 keys */
#define STEM_BITS 6  /* stem table: 64 slots for ~16 keys */
#define STEM_KEY 4   /* bytes of a stem that key it */
#define NO_INDEX ((size_t)-1)
#define NO_VALUE 0xFFFF

enum word_class { W_OTHER, W_DETERMINER, W_LEAD_IN, W_NUMBER };

/* A word's hot bits: 0 when it is no key, else HOT_KEY, its class, flags
 * and its entry's index from HOT_SHIFT up. */
#define HOT_KEY 1u
#define HOT_CLASS(h) ((enum word_class)((h) >> 1 & 3))
#define HOT_PAIR 8u  /* starts a two-word key */
#define HOT_CUES 16u /* has cues of its own */
#define HOT_SHIFT 5

struct slot {
    uint64_t lo, hi; /* the key; both 0: empty */
};

/* What a key of any table leads to. */
struct entry {
    uint16_t first, count; /* its cues: cue_order[first, first + count) */
    uint16_t from;         /* cue bytes the key stands for (the same for all) */
    uint8_t word_class;    /* word table: the word's class */
    uint8_t starts_pair;   /* word table: first word of a two-word key */
    uint8_t hashed;        /* pair table: the key is a hash, compare the words */
    uint64_t next_words;   /* word table: filter of the second words */
    uint64_t next_bytes;   /* filter of the two bytes after the key (rest_sig) */
};

#define SMALL_KEYS (256 + 36 * 36) /* words of one or two ASCII letters or digits */

static struct {
    struct slot word_slots[1u << WORD_BITS], pair_slots[1u << PAIR_BITS],
        stem_slots[1u << STEM_BITS];
    uint16_t word_values[1u << WORD_BITS], pair_values[1u << PAIR_BITS],
        stem_values[1u << STEM_BITS], small[SMALL_KEYS];
    /* what the matcher needs of every word, in the slot itself (HOT_*), so
     * that most words cost no load of their entry */
    uint32_t word_hot[1u << WORD_BITS], small_hot[SMALL_KEYS];
    uint64_t seed;
    struct entry entries[2 * N_CUES + 64];
    size_t n_entries;
    uint16_t cue_order[N_CUES];
    uint64_t rest[N_CUES], rest_mask[N_CUES]; /* up to 8 cue bytes after its key */
    uint8_t word_byte[256];                   /* the byte continues a word */
    uint8_t stem_pair[8192];                  /* bit (b0 << 8 | b1): a stem starts with b0 b1 */
} ix;
static pthread_once_t ix_once = PTHREAD_ONCE_INIT;

static int is_word(unsigned char c)
{
    return ix.word_byte[c];
}

static uint64_t load64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint32_t load32(const char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

/* The key of the word p[0, len), 1 <= len <= KEY_MAX: its bytes, zero
 * padded (a word never holds a 0 byte, so the padding is unambiguous).
 * Reads p[0, 16). */
static void word_key(const char *p, size_t len, uint64_t *lo, uint64_t *hi)
{
    *lo = load64(p);
    *hi = load64(p + 8);
    if (len < 8) {
        *lo &= ((uint64_t)1 << (8 * len)) - 1;
        *hi = 0;
    } else if (len < 16) {
        *hi &= ((uint64_t)1 << (8 * (len - 8))) - 1;
    }
}

/* Index of a word of one or two ASCII letters or digits (lower case) in
 * ix.small. */
static size_t small_index(const char *p, size_t len)
{
    unsigned c0 = (unsigned char)p[0], c1;
    if (len == 1)
        return c0;
    c1 = (unsigned char)p[1];
    return 256 + (c0 <= '9' ? c0 - '0' : c0 - 'a' + 10) * 36 +
           (c1 <= '9' ? c1 - '0' : c1 - 'a' + 10);
}

/* A cheap signature of the two bytes after a key, for the filter that
 * skips a key's cues at once when none can match ("write a" has a dozen). */
static unsigned rest_sig(uint64_t next8)
{
    return (unsigned)((next8 & 0xFF) * 7 + (next8 >> 8 & 0xFF)) & 63;
}

/* A cheap signature of a word, for the second-word filter of pairs. */
static unsigned word_sig(const char *p, size_t len)
{
    return ((unsigned char)p[0] + 31 * (unsigned)len + 7 * (unsigned char)p[len - 1]) & 63;
}

/* The key of two adjacent words and the byte between them: a hash. */
static uint64_t pair_key(uint64_t lo1, uint64_t hi1, uint64_t lo2, uint64_t hi2, unsigned char sep)
{
    uint64_t h = (lo1 * 0x9E3779B97F4A7C15u) ^ (hi1 * 0xC2B2AE3D27D4EB4Fu);
    h = (h ^ h >> 31) * 0xBF58476D1CE4E5B9u;
    h ^= (lo2 * 0x94D049BB133111EBu) ^ (hi2 * 0xD6E8FEB86659FD93u) ^ sep;
    h = (h ^ h >> 29) * 0x9E3779B97F4A7C15u;
    return (h ^ h >> 32) | 1;
}

/* The two slots of key (lo, hi) in a table of 2^bits slots. */
static void slots_of(uint64_t lo, uint64_t hi, unsigned bits, size_t *a, size_t *b)
{
    uint64_t h = ((lo ^ ix.seed) * 0x9E3779B97F4A7C15u) ^ (hi * 0xC2B2AE3D27D4EB4Fu);
    *a = (size_t)(h >> (64 - bits));
    *b = (size_t)(h >> (64 - 2 * bits)) & (((size_t)1 << bits) - 1);
}

/* The hot bits of word key (lo, hi), 0 when it is none. */
static inline uint32_t find_word(uint64_t lo, uint64_t hi)
{
    size_t a, b;

    slots_of(lo, hi, WORD_BITS, &a, &b);
    if (ix.word_slots[a].lo == lo && ix.word_slots[a].hi == hi)
        return ix.word_hot[a];
    if (ix.word_slots[b].lo == lo && ix.word_slots[b].hi == hi)
        return ix.word_hot[b];
    return 0;
}

/* The entry of key (lo, hi), or NULL: two compares, no probing loop. */
static inline const struct entry *find(const struct slot *slots, const uint16_t *values,
                                       unsigned bits, uint64_t lo, uint64_t hi)
{
    size_t a, b;

    slots_of(lo, hi, bits, &a, &b);
    if (slots[a].lo == lo && slots[a].hi == hi)
        return &ix.entries[values[a]];
    if (slots[b].lo == lo && slots[b].hi == hi)
        return &ix.entries[values[b]];
    return NULL;
}

/* ---- building the index ---- */

static void index_broken(const char *what, const char *text);

static struct entry *new_entry(void)
{
    if (ix.n_entries == sizeof ix.entries / sizeof ix.entries[0])
        index_broken("more keys than entries, at", "a new key");
    memset(&ix.entries[ix.n_entries], 0, sizeof ix.entries[0]);
    return &ix.entries[ix.n_entries++];
}

/* The entry of key (lo, hi), added when missing; NULL when the table must
 * be rebuilt with another seed. */
static struct entry *table_add(struct slot *slots, uint16_t *values, unsigned bits, uint64_t lo,
                               uint64_t hi)
{
    struct slot cur = {lo, hi};
    struct entry *e;
    uint16_t val;
    size_t a, b, pos, i;

    slots_of(lo, hi, bits, &a, &b);
    if (slots[a].lo == lo && slots[a].hi == hi)
        return &ix.entries[values[a]];
    if (slots[b].lo == lo && slots[b].hi == hi)
        return &ix.entries[values[b]];
    e = new_entry();
    val = (uint16_t)(e - ix.entries);
    /* cuckoo: take a free slot of the two, or evict and move the evicted
     * key to its other slot */
    pos = values[a] == NO_VALUE ? a : b;
    for (i = 0; i < 500; i++) {
        struct slot s = slots[pos];
        uint16_t v = values[pos];
        slots[pos] = cur;
        values[pos] = val;
        if (v == NO_VALUE)
            return e;
        cur = s;
        val = v;
        slots_of(cur.lo, cur.hi, bits, &a, &b);
        pos = pos == a ? b : a;
    }
    return NULL;
}

/* A table edit broke an assumption of the index: fail loudly, in every
 * test, rather than classify wrongly. */
static void index_broken(const char *what, const char *text)
{
    fprintf(stderr, "classify: cannot index cue table: %s '%s'\n", what, text);
    abort();
}

static size_t word_run(const char *s)
{
    size_t n = 0;
    while (s[n] && is_word((unsigned char)s[n]))
        n++;
    return n;
}

/* The entry of the word text[0, len), added when missing. */
static struct entry *add_word(const char *text, size_t len)
{
    char padded[KEY_MAX + 8];
    uint64_t lo, hi;
    size_t i;

    if (len == 0 || len > KEY_MAX)
        index_broken("a word is empty or too long in", text);
    for (i = 0; i < len; i++)
        if (!((text[i] >= 'a' && text[i] <= 'z') || (text[i] >= '0' && text[i] <= '9')))
            index_broken("a word is not lower-case ASCII in", text);
    if (len <= 2) {
        uint16_t *v = &ix.small[small_index(text, len)];
        if (*v == NO_VALUE)
            *v = (uint16_t)(new_entry() - ix.entries);
        return &ix.entries[*v];
    }
    memset(padded, 0, sizeof padded);
    memcpy(padded, text, len);
    word_key(padded, len, &lo, &hi);
    return table_add(ix.word_slots, ix.word_values, WORD_BITS, lo, hi);
}

/* Index cue c: the entry of its key, and how many of its bytes the key
 * stands for. */
static struct entry *index_cue(const struct cue *c, size_t *from)
{
    size_t n1 = word_run(c->text), n2;
    char pad1[KEY_MAX + 8], pad2[KEY_MAX + 8];
    uint64_t lo1, hi1, lo2, hi2;
    struct entry *e;

    if (n1 == 0)
        index_broken("it does not start with a word:", c->text);
    if (c->text[n1] == '\0' && (c->flags & F_STEM)) {
        if (n1 < STEM_KEY)
            index_broken("stem shorter than 4 bytes:", c->text);
        *from = STEM_KEY;
        return table_add(ix.stem_slots, ix.stem_values, STEM_BITS, load32(c->text), 0);
    }
    n2 = c->text[n1] ? word_run(c->text + n1 + 1) : 0;
    if (!(e = add_word(c->text, n1)))
        return NULL;
    if (n2 == 0 || ((c->flags & F_STEM) && c->text[n1 + 1 + n2] == '\0')) {
        /* one word, or a second word that is a stem: under the first word */
        *from = n1;
        return e;
    }
    /* two words and the byte between: under the pair */
    if (!add_word(c->text + n1 + 1, n2))
        return NULL;
    e->starts_pair = 1;
    e->next_words |= (uint64_t)1 << word_sig(c->text + n1 + 1, n2);
    memset(pad1, 0, sizeof pad1);
    memset(pad2, 0, sizeof pad2);
    memcpy(pad1, c->text, n1);
    memcpy(pad2, c->text + n1 + 1, n2);
    word_key(pad1, n1, &lo1, &hi1);
    word_key(pad2, n2, &lo2, &hi2);
    *from = n1 + 1 + n2;
    e = table_add(ix.pair_slots, ix.pair_values, PAIR_BITS,
                  pair_key(lo1, hi1, lo2, hi2, (unsigned char)c->text[n1]), 0);
    if (e)
        e->hashed = 1;
    return e;
}

static int try_build(void)
{
    size_t i, k, from, next = 0;
    struct entry *e;

    ix.n_entries = 0;
    memset(ix.word_slots, 0, sizeof ix.word_slots);
    memset(ix.pair_slots, 0, sizeof ix.pair_slots);
    memset(ix.stem_slots, 0, sizeof ix.stem_slots);
    memset(ix.word_values, 0xFF, sizeof ix.word_values);
    memset(ix.pair_values, 0xFF, sizeof ix.pair_values);
    memset(ix.stem_values, 0xFF, sizeof ix.stem_values);
    memset(ix.small, 0xFF, sizeof ix.small);
    memset(ix.rest, 0, sizeof ix.rest);
    memset(ix.rest_mask, 0, sizeof ix.rest_mask);
    for (k = 0; k < N_CUES; k++) {
        if (!(e = index_cue(&cues[k], &from)))
            return -1;
        e->count++;
        e->from = (uint16_t)from;
    }
    for (i = 0; i < sizeof determiners / sizeof determiners[0]; i++) {
        if (!(e = add_word(determiners[i], strlen(determiners[i]))))
            return -1;
        e->word_class = W_DETERMINER;
    }
    for (i = 0; i < sizeof lead_ins / sizeof lead_ins[0]; i++) {
        if (!(e = add_word(lead_ins[i], strlen(lead_ins[i]))))
            return -1;
        e->word_class = W_LEAD_IN;
    }
    for (i = 0; i < ix.n_entries; i++) {
        ix.entries[i].first = (uint16_t)next;
        next += ix.entries[i].count;
        ix.entries[i].count = 0;
    }
    /* the cues of one key in table order */
    for (k = 0; k < N_CUES; k++) {
        e = index_cue(&cues[k], &from);
        if (e->from != from ||
            (e->count > 0 && strncmp(cues[ix.cue_order[e->first]].text, cues[k].text, from)))
            index_broken("cues of one key differ in what the key stands for:", cues[k].text);
        ix.cue_order[e->first + e->count++] = (uint16_t)k;
        for (i = 0; i < 8 && cues[k].text[from + i]; i++) {
            ix.rest[k] |= (uint64_t)(unsigned char)cues[k].text[from + i] << (8 * i);
            ix.rest_mask[k] |= (uint64_t)0xFF << (8 * i);
        }
        /* a cue with fewer than two bytes left passes any text */
        e->next_bytes |= i < 2 ? ~(uint64_t)0 : (uint64_t)1 << rest_sig(ix.rest[k]);
    }
    return 0;
}

static uint32_t hot(uint16_t v)
{
    const struct entry *e = &ix.entries[v];
    return HOT_KEY | (uint32_t)e->word_class << 1 | (e->starts_pair ? HOT_PAIR : 0) |
           (e->count ? HOT_CUES : 0) | (uint32_t)v << HOT_SHIFT;
}

static void build_index(void)
{
    size_t i, k;

    /* words: ASCII letters and digits, and every byte of a non-ASCII
     * character */
    for (i = 0; i < 256; i++)
        ix.word_byte[i] = (uint8_t)((i >= 'a' && i <= 'z') || (i >= 'A' && i <= 'Z') ||
                                    (i >= '0' && i <= '9') || i >= 0x80);
    for (ix.seed = 1; try_build(); ix.seed++)
        if (ix.seed == 64)
            index_broken("no seed places every key, in", "the cue table");
    for (i = 0; i < (1u << WORD_BITS); i++)
        ix.word_hot[i] = ix.word_values[i] == NO_VALUE ? 0 : hot(ix.word_values[i]);
    for (i = 0; i < SMALL_KEYS; i++)
        ix.small_hot[i] = ix.small[i] == NO_VALUE ? 0 : hot(ix.small[i]);
    for (k = 0; k < N_CUES; k++) {
        if (cues[k].text[word_run(cues[k].text)] == '\0' && (cues[k].flags & F_STEM)) {
            unsigned pair = (unsigned char)cues[k].text[0] << 8 | (unsigned char)cues[k].text[1];
            ix.stem_pair[pair >> 3] |= (uint8_t)(1u << (pair & 7));
        }
    }
}

/* ---- normalized text ---- */

/* Normalized text of one window. s has TEXT_PAD zero bytes after n, so
 * words and blocks of it can be loaded whole. */
struct text {
    char s[HEAD_MAX + TEXT_PAD];
    size_t n;
    size_t base;       /* message offset of the window */
    size_t head_end;   /* instruction zones of the message: [0, head_end) */
    size_t tail_start; /* and [tail_start, end); the rest is material */
    size_t mat_from;   /* s[mat_from, mat_to) came from the material (normalized */
    size_t mat_to;     /* bytes keep their order, so material is one range) */
    int text_start;    /* s starts where the message starts */
    int system;        /* a system prompt window */
    int has_fence;     /* saw ``` */
    int math;          /* maths symbols seen outside fences */
};

struct hit {
    double value;         /* best contribution; valid when the cue's bit is set */
    int material;         /* ... found outside the instruction zones */
    const struct text *t; /* where it was found, for the reason */
    size_t pos;
};

/* The cues hit so far, as a bitmap over the cue table, so that summing and
 * picking the reason visit only those, in table order. */
#define HIT_WORDS ((N_CUES + 63) / 64)

struct hits {
    uint64_t set[HIT_WORDS];
    struct hit h[N_CUES];
};

static double hit_value(const struct hits *hits, size_t k)
{
    return hits->set[k / 64] >> (k % 64) & 1 ? hits->h[k].value : 0.0;
}

#if defined(__SSE2__) && !defined(ALLOT_CLASSIFY_SCALAR)
/* x86-64 always has SSE2; elsewhere (or with -DALLOT_CLASSIFY_SCALAR, to
 * test it) the byte-at-a-time code below does all the work. */
#include <emmintrin.h>
#define HAVE_SSE2 1

static __m128i in_range(__m128i x, unsigned char lo, unsigned char hi)
{
    __m128i d = _mm_sub_epi8(x, _mm_set1_epi8((char)lo));
    return _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8((char)(hi - lo))), d);
}

/* The fast path of normalize(): take the longest prefix of the 16 bytes at
 * s that needs no decision (no tab, CR, fence, typographic quote, and no
 * blank after a blank), lower-cased, into out. Returns its length;
 * the byte after it, if any, goes through the slow path. */
static size_t normalize16(const unsigned char *s, char *out, char *last, size_t *digits,
                          size_t *ops)
{
    const __m128i x = _mm_loadu_si128((const __m128i *)(const void *)s);
    __m128i nl = _mm_cmpeq_epi8(x, _mm_set1_epi8('\n'));
    __m128i blank = _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(' ')), nl);
    __m128i special = _mm_or_si128(_mm_andnot_si128(nl, in_range(x, 0x09, 0x0D)),
                                   _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('`')),
                                                _mm_cmpeq_epi8(x, _mm_set1_epi8((char)0xE2))));
    unsigned bm = (unsigned)_mm_movemask_epi8(blank), mask, take;
    unsigned bad = (unsigned)_mm_movemask_epi8(special) |
                   (bm & (bm << 1 | (unsigned)(*last == ' ' || *last == '\n')));
    __m128i lower;

    take = bad ? (unsigned)__builtin_ctz(bad) : 16;
    if (take == 0)
        return 0;
    mask = take == 16 ? 0xFFFF : (1u << take) - 1;
    lower = _mm_add_epi8(x, _mm_and_si128(in_range(x, 'A', 'Z'), _mm_set1_epi8(0x20)));
    _mm_storeu_si128((__m128i *)(void *)out, lower);
    /* only "any digit" and "two operators" matter: count up to 2 (and
     * without popcount, which baseline x86-64 lacks) */
    *digits += ((unsigned)_mm_movemask_epi8(in_range(x, '0', '9')) & mask) != 0;
    bad = (unsigned)_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8('=')),
                                                   _mm_cmpeq_epi8(x, _mm_set1_epi8('^')))) &
          mask;
    *ops += (bad != 0) + ((bad & (bad - 1)) != 0);
    /* from the register when all was taken: reading back the store would
     * put a store-to-load round trip on the loop's critical path */
    *last = take == 16 ? (char)(_mm_extract_epi16(lower, 7) >> 8) : out[take - 1];
    return take;
}

/* Bit i set when s[i] continues a word, for the 64 bytes at s. */
static inline uint64_t word_mask(const char *s)
{
    uint64_t m = 0;
    int i;

    for (i = 0; i < 64; i += 16) {
        __m128i x = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        __m128i w = _mm_or_si128(in_range(_mm_or_si128(x, _mm_set1_epi8(0x20)), 'a', 'z'),
                                 in_range(x, '0', '9'));
        m |= (uint64_t)(unsigned)(_mm_movemask_epi8(w) | _mm_movemask_epi8(x)) << i;
    }
    return m;
}
#else
#define HAVE_SSE2 0

static inline uint64_t word_mask(const char *s)
{
    uint64_t m = 0;
    int i;

    for (i = 0; i < 64; i++)
        m |= (uint64_t)ix.word_byte[(unsigned char)s[i]] << i;
    return m;
}
#endif

/* How normalize() treats a byte. */
enum byte_class { B_PLAIN, B_DIGIT, B_OP, B_BLANK, B_NEWLINE, B_TICK, B_E2 };

static const uint8_t byte_class[256] = {
    ['0'] = B_DIGIT,  ['1'] = B_DIGIT,  ['2'] = B_DIGIT,    ['3'] = B_DIGIT,  ['4'] = B_DIGIT,
    ['5'] = B_DIGIT,  ['6'] = B_DIGIT,  ['7'] = B_DIGIT,    ['8'] = B_DIGIT,  ['9'] = B_DIGIT,
    ['='] = B_OP,     ['^'] = B_OP,     [' '] = B_BLANK,    ['\t'] = B_BLANK, ['\r'] = B_BLANK,
    ['\f'] = B_BLANK, ['\v'] = B_BLANK, ['\n'] = B_NEWLINE, ['`'] = B_TICK,   [0xE2] = B_E2,
};

/* Where the byte at input offset `at` lands, when it starts a zone. */
#define MARK_ZONES(at, o)                                                                          \
    do {                                                                                           \
        if (mat_from == NO_INDEX && (at) >= from_in)                                               \
            mat_from = (o);                                                                        \
        if (mat_to == NO_INDEX && (at) >= to_in)                                                   \
            mat_to = (o);                                                                          \
    } while (0)

/* Normalize p[base, base + n) into t. n <= HEAD_MAX. in_fence: the window
 * starts inside a code fence. Blanks fold into one ' ', a newline wins over
 * a space, and nothing blank is emitted first. Also finds where the
 * material zone of the message, [t->head_end, t->tail_start), lies in the
 * output. */
static void normalize(struct text *t, const char *p, size_t base, size_t n, int in_fence)
{
    const unsigned char *s = (const unsigned char *)p + base;
    char *out = t->s;
    size_t i = 0, o = 0, digits = 0, ops = 0;
    size_t from_in = t->head_end > base ? t->head_end - base : 0;
    size_t to_in = t->tail_start > base ? t->tail_start - base : 0;
    size_t mat_from = NO_INDEX, mat_to = NO_INDEX;
    char last = '\n'; /* as if after a newline: no blank first */
    int has_fence = 0;

    while (i < n) {
        unsigned char c;
        size_t at;
        char e;

#if HAVE_SSE2
        if (!in_fence && n - i >= 16) {
            size_t took = normalize16(s + i, out + o, &last, &digits, &ops);
            /* input i + j became output o + j */
            if (took && mat_from == NO_INDEX && from_in < i + took)
                mat_from = o + (from_in > i ? from_in - i : 0);
            if (took && mat_to == NO_INDEX && to_in < i + took)
                mat_to = o + (to_in > i ? to_in - i : 0);
            i += took;
            o += took;
            if (took == 16)
                continue;
        }
#endif
        c = s[i];
        at = i;
        if (in_fence) {
            /* only the closing fence counts */
            if (c == '`' && i + 2 < n && s[i + 1] == '`' && s[i + 2] == '`') {
                in_fence = 0;
                has_fence = 1;
                i += 3;
                goto newline;
            }
            i++;
            continue;
        }
        switch (byte_class[c]) {
        case B_PLAIN:
            e = (char)(c >= 'A' && c <= 'Z' ? c + 32 : c);
            break;
        case B_DIGIT:
            digits++;
            e = (char)c;
            break;
        case B_OP:
            ops++;
            e = (char)c;
            break;
        case B_BLANK:
        case B_NEWLINE: {
            /* a run of blanks becomes one byte: '\n' when it holds a newline */
            int nl = 0;
            do {
                nl |= s[i] == '\n';
                i++;
            } while (i < n && (byte_class[s[i]] == B_BLANK || byte_class[s[i]] == B_NEWLINE));
            if (nl)
                goto newline;
            if (last != ' ' && last != '\n') {
                MARK_ZONES(at, o);
                out[o++] = last = ' ';
            }
            continue;
        }
        case B_TICK:
            if (i + 2 < n && s[i + 1] == '`' && s[i + 2] == '`') {
                in_fence = 1;
                has_fence = 1;
                i += 3;
                goto newline;
            }
            e = '`';
            break;
        default: /* B_E2: typographic quotes and dashes, maths operators */
            if (i + 2 < n && s[i + 1] == 0x80) {
                unsigned char d = s[i + 2];
                e = d == 0x98 || d == 0x99   ? '\''
                    : d == 0x9C || d == 0x9D ? '"'
                    : d == 0x93 || d == 0x94 ? '-'
                                             : 0;
                if (e) {
                    i += 2; /* and 1 below */
                    break;
                }
            } else if (i + 2 < n && s[i + 1] == 0x88) {
                ops++;
            }
            e = (char)c;
            break;
        }
        MARK_ZONES(at, o);
        out[o++] = last = e;
        i++;
        continue;
    newline:
        /* a newline (or a fence, which acts as one) at offset at */
        if (last == ' ') {
            out[o - 1] = last = '\n';
        } else if (last != '\n') {
            MARK_ZONES(at, o);
            out[o++] = last = '\n';
        }
    }
    memset(out + o, 0, TEXT_PAD);
    t->mat_from = mat_from == NO_INDEX ? o : mat_from;
    t->mat_to = mat_to == NO_INDEX ? o : mat_to;
    t->n = o;
    t->base = base;
    t->has_fence = has_fence;
    t->math = ops >= 2 && digits > 0;
}

/* ---- matching ---- */

/* Bytes before a word that make it start an instruction ("Then pick",
 * "1. Summarise", "- review"). The NUL is in the set, as it was when this
 * was a strchr(). */
static const uint8_t strong_before[256] = {
    ['\0'] = 1, ['\n'] = 1, ['.'] = 1,  ['!'] = 1, ['?'] = 1, [':'] = 1, [';'] = 1, ['('] = 1,
    [')'] = 1,  ['"'] = 1,  ['\''] = 1, ['*'] = 1, ['#'] = 1, ['>'] = 1, ['-'] = 1,
};

/* A word of the text being matched. */
struct word {
    size_t start, len;
    uint64_t lo, hi;            /* its key, when len <= KEY_MAX */
    uint32_t hot;               /* its hot bits in the word table */
    enum word_class word_class; /* its class */
    enum word_class before;     /* the class of the word before it */
};

/* The multiplier for the words before a cue at w (see the top comment):
 * imperative 1.5, a verb-like cue after a determiner or a number 0.3. */
static double context_factor(const struct text *t, const struct word *w, const struct cue *cue)
{
    size_t q = w->start;

    while (q > 0 && t->s[q - 1] == ' ')
        q--;
    if (q == 0)
        return t->text_start ? 1.5 : 1.0;
    if (!is_word((unsigned char)t->s[q - 1]))
        return strong_before[(unsigned char)t->s[q - 1]] ? 1.5 : 1.0;
    /* t->s[q - 1] ends the word before */
    if ((cue->flags & F_VERB) && (w->before == W_DETERMINER || w->before == W_NUMBER))
        return 0.3;
    return w->before == W_LEAD_IN ? 1.5 : 1.0;
}

/* s[p, p + n) with each newline read as a space (how a ' ' of a cue
 * matches), compared with cue text c. */
static int same_text(const char *s, const char *c, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++)
        if (s[i] != c[i] && !(s[i] == '\n' && c[i] == ' '))
            return 0;
    return 1;
}

/* Eight bytes of text at p with newlines as spaces (SWAR: a byte is 0x0A
 * exactly where x ^ 0x0A has a zero byte). */
static uint64_t load_as_cue(const char *p)
{
    const uint64_t lows = 0x7F7F7F7F7F7F7F7Fu;
    uint64_t x = load64(p), y = x ^ 0x0A0A0A0A0A0A0A0Au;
    uint64_t nl = ~(((y & lows) + lows) | y | lows);
    return x ^ (nl >> 7) * 0x2A;
}

/* Score the cues of entry e at word w into hits. The text at w already
 * matches e->from bytes of each cue (verified here for pair keys, which
 * are hashes); each cue's next 8 bytes are compared at once, the rest
 * byte by byte, and unless the cue is a stem a word must end after it. */
static void try_cues(const struct text *t, const struct word *w, const struct entry *e,
                     struct hits *hits)
{
    size_t p = w->start, j, i;
    int material = !t->system && p >= t->mat_from && p < t->mat_to;
    double place = t->system ? SYSTEM_FACTOR : material ? MATERIAL_FACTOR : 1.0, v;
    uint64_t next8;

    if (e->hashed &&
        (p + e->from > t->n || !same_text(t->s + p, cues[ix.cue_order[e->first]].text, e->from)))
        return;
    next8 = load_as_cue(t->s + p + e->from);
    if (!(e->next_bytes >> rest_sig(next8) & 1))
        return;
    for (j = 0; j < e->count; j++) {
        size_t k = ix.cue_order[e->first + j];
        const struct cue *cue = &cues[k];
        double best;
        const char *c;

        if ((next8 & ix.rest_mask[k]) != ix.rest[k])
            continue;
        /* the first 8 bytes matched; the padding after n is zeros, which no
         * cue holds */
        for (c = cue->text + e->from, i = p + e->from; *c && i < t->n; c++, i++)
            if (t->s[i] != *c && !(t->s[i] == '\n' && *c == ' '))
                break;
        if (*c || (!(cue->flags & F_STEM) && i < t->n && is_word((unsigned char)t->s[i])))
            continue;
        /* 1.5 is the largest context factor: a hit this good cannot improve */
        best = hit_value(hits, k);
        if (best >= cue->weight * 1.5 * place)
            continue;
        v = cue->weight * context_factor(t, w, cue) * place;
        if (v > best) {
            hits->set[k / 64] |= (uint64_t)1 << (k % 64);
            hits->h[k].value = v;
            hits->h[k].material = material;
            hits->h[k].t = t;
            hits->h[k].pos = p;
        }
    }
}

/* Every cue match in t. Words are found 64 bytes at a time from a mask of
 * word bytes, and each is looked up once: in the word table, as the
 * second word of a pair with the word before it, and by its first bytes
 * in the stem table. */
static void match_text(const struct text *t, struct hits *hits)
{
    struct word two[2], *w = &two[0], *prev = &two[1], *swap;
    const struct entry *e;
    size_t b, len;
    uint64_t carry = 0, key;

    memset(two, 0, sizeof two);
    prev->word_class = W_OTHER;
    for (b = 0; b < t->n; b += 64) {
        uint64_t m = word_mask(t->s + b), starts = m & ~(m << 1 | carry);
        carry = m >> 63;
        while (starts) {
            w->start = b + (size_t)__builtin_ctzll(starts);
            starts &= starts - 1;
            if (~m >> (w->start - b)) {
                len = (size_t)__builtin_ctzll(~m >> (w->start - b));
            } else { /* the word goes on past this block */
                size_t nb = b + 64;
                uint64_t nm = 0;
                while (nb < t->n && (nm = word_mask(t->s + nb)) == ~(uint64_t)0)
                    nb += 64;
                len = nb - w->start + (nb < t->n ? (size_t)__builtin_ctzll(~nm) : 0);
            }
            w->len = len;
            w->before = prev->word_class;
            w->hot = 0;
            w->lo = w->hi = 0;
            if (len <= KEY_MAX) {
                word_key(t->s + w->start, len, &w->lo, &w->hi);
                /* keys are ASCII: a word with other bytes is none */
                if (!((w->lo | w->hi) & 0x8080808080808080u))
                    w->hot = len <= 2 ? ix.small_hot[small_index(t->s + w->start, len)]
                                      : find_word(w->lo, w->hi);
            }
            w->word_class =
                t->s[w->start] >= '0' && t->s[w->start] <= '9' ? W_NUMBER : HOT_CLASS(w->hot);

            /* cues of two or more words, at the previous word */
            if ((prev->hot & HOT_PAIR) && w->hot &&
                (ix.entries[prev->hot >> HOT_SHIFT].next_words >> word_sig(t->s + w->start, len) &
                 1) &&
                prev->start + prev->len + 1 == w->start) {
                unsigned char sep = (unsigned char)t->s[w->start - 1];
                key = pair_key(prev->lo, prev->hi, w->lo, w->hi, sep == '\n' ? ' ' : sep);
                if ((e = find(ix.pair_slots, ix.pair_values, PAIR_BITS, key, 0)))
                    try_cues(t, prev, e, hits);
            }
            if (w->hot & HOT_CUES)
                try_cues(t, w, &ix.entries[w->hot >> HOT_SHIFT], hits);
            if (len >= STEM_KEY) {
                unsigned pair =
                    (unsigned char)t->s[w->start] << 8 | (unsigned char)t->s[w->start + 1];
                if (ix.stem_pair[pair >> 3] >> (pair & 7) & 1 &&
                    (e = find(ix.stem_slots, ix.stem_values, STEM_BITS, load32(t->s + w->start),
                              0)))
                    try_cues(t, w, e, hits);
            }
            swap = prev; /* this word is the previous one of the next */
            prev = w;
            w = swap;
        }
    }
}

/* The message ends with '?' (ignoring trailing blanks). Only the last
 * TAIL_MAX bytes are looked at, like every other read of the turn. */
static int ends_with_question(struct allot_slice s)
{
    size_t n = s.len, stop = s.len > TAIL_MAX ? s.len - TAIL_MAX : 0;
    /* a NUL counts as blank, as it always has (this was a strchr()) */
    while (n > stop && (s.ptr[n - 1] == ' ' || s.ptr[n - 1] == '\t' || s.ptr[n - 1] == '\r' ||
                        s.ptr[n - 1] == '\n' || s.ptr[n - 1] == '\0'))
        n--;
    return n > stop && s.ptr[n - 1] == '?';
}

/* Count fences in p[0, n): an odd count means the window ends inside
 * one... or, read from the end, starts inside one. */
static int odd_fences(const char *p, size_t n)
{
    size_t i, count = 0;
    for (i = 0; i + 2 < n; i++) {
        if (p[i] == '`' && p[i + 1] == '`' && p[i + 2] == '`') {
            count++;
            i += 2;
        }
    }
    return (int)(count & 1);
}

/* Quote the word(s) matched at t->s[pos] into q, header-safe. */
static void quote_match(const struct text *t, size_t pos, size_t min_len, char *q, size_t qsize)
{
    size_t i = 0, end = pos + min_len;
    while (end < t->n && is_word((unsigned char)t->s[end]))
        end++;
    for (; pos + i < end && i + 1 < qsize && i < QUOTE_MAX; i++) {
        unsigned char c = (unsigned char)t->s[pos + i];
        q[i] = c == '"' || c == '\\'    ? '\''
               : (c < 0x20 || c > 0x7E) ? (c == '\n' ? ' ' : '?')
                                        : (char)c;
    }
    q[i] = '\0';
}

/* Where the instruction is likely to sit in a user turn of n bytes: a
 * short first paragraph (ended by a blank line, "...:" and a newline, or a
 * code fence) and a short last paragraph (after a blank line or a closing
 * fence). Without either, a short turn is all instruction and a long one
 * has POS_EDGE bytes at each end. Only the head and tail windows are read:
 * a blank line must lie inside them. */
static void find_zones(const char *p, size_t n, size_t *head_end, size_t *tail_start)
{
    size_t i, j, lim = n < HEAD_MAX ? n : HEAD_MAX, first = 0, last = n;
    size_t from = n > TAIL_MAX + 1 ? n - TAIL_MAX - 1 : 0;
    int has_first = 0, has_last = 0;

    for (i = 0; i < lim && i <= ZONE_MAX && !has_first; i++) {
        if (p[i] == '`' && i + 2 < n && p[i + 1] == '`' && p[i + 2] == '`') {
            has_first = i > 0;
            first = i;
            break;
        }
        if (p[i] != '\n' && p[i] != ':')
            continue;
        for (j = i + 1; j < lim && (p[j] == ' ' || p[j] == '\t' || p[j] == '\r'); j++)
            ;
        if (j < lim && p[j] == '\n' && i > 0) {
            has_first = 1;
            first = i;
        }
    }
    for (i = n; i > from && n - i <= ZONE_MAX; i--) {
        const char *c = p + i - 1;
        if (*c == '`' && i >= 3 && c[-1] == '`' && c[-2] == '`') {
            has_last = i < n;
            last = i;
            break;
        }
        if (*c != '\n')
            continue;
        for (j = i - 1; j > from && (p[j - 1] == ' ' || p[j - 1] == '\t' || p[j - 1] == '\r'); j--)
            ;
        if (j > from && p[j - 1] == '\n') {
            has_last = 1;
            last = i;
            break;
        }
    }
    if (has_last && has_first && last <= first)
        has_last = 0;
    if (has_first || has_last) {
        *head_end = has_first ? first : 0;
        *tail_start = has_last ? last : n;
    } else if (n <= 2 * POS_EDGE) {
        *head_end = *tail_start = n;
    } else {
        *head_end = POS_EDGE;
        *tail_start = n - POS_EDGE;
    }
}

/* ---- the classifier ---- */

struct feature {
    const char *label;
    double value;
};

void allot_classify(const struct allot_instruction *in, struct allot_classification *out)
{
    struct text head, tail, sys;
    struct hits hits;
    struct feature feat[ALLOT_CAT__COUNT];
    double score[ALLOT_CAT__COUNT], material[ALLOT_CAT__COUNT], weight[ALLOT_CAT__COUNT];
    double sum = 0, max_labour = 0, max_strong = 0, conf;
    struct allot_slice user = in ? in->last_user : allot_slice_of("", 0);
    struct allot_slice system = in ? in->system : allot_slice_of("", 0);
    int i, best = -1, best_labour = -1, preferred = 0, has_tail = 0, question, overruled;
    size_t k, w, top = N_CUES, head_end, tail_start;
    char quote[QUOTE_MAX + 1];

    pthread_once(&ix_once, build_index);
    memset(hits.set, 0, sizeof hits.set);
    memset(feat, 0, sizeof feat);
    if (!user.ptr)
        user = allot_slice_of("", 0);
    if (!system.ptr)
        system = allot_slice_of("", 0);

    /* 1-2: cues in the head and tail of the last user turn, and the system
     * prompt */
    find_zones(user.ptr, user.len, &head_end, &tail_start);
    head.text_start = 1;
    head.system = 0;
    head.head_end = tail.head_end = head_end;
    head.tail_start = tail.tail_start = tail_start;
    normalize(&head, user.ptr, 0, user.len < HEAD_MAX ? user.len : HEAD_MAX, 0);
    match_text(&head, &hits);
    if (user.len > HEAD_MAX) {
        size_t b = user.len - TAIL_MAX > HEAD_MAX ? user.len - TAIL_MAX : HEAD_MAX;
        /* start on a word boundary so no half word is matched */
        while (b < user.len && is_word((unsigned char)user.ptr[b]))
            b++;
        tail.text_start = 0;
        tail.system = 0;
        normalize(&tail, user.ptr, b, user.len - b, odd_fences(user.ptr + b, user.len - b));
        match_text(&tail, &hits);
        has_tail = 1;
    }
    sys.text_start = 1;
    sys.system = 1;
    sys.head_end = sys.tail_start = system.len;
    normalize(&sys, system.ptr, 0, system.len < SYSTEM_MAX ? system.len : SYSTEM_MAX, 0);
    match_text(&sys, &hits);

    /* the hits in table order, as the sums below always added them */
    for (i = 0; i < ALLOT_CAT__COUNT; i++)
        score[i] = material[i] = 0;
    for (w = 0; w < HIT_WORDS; w++) {
        uint64_t set = hits.set[w];
        while (set) {
            k = w * 64 + (size_t)__builtin_ctzll(set);
            set &= set - 1;
            (hits.h[k].material ? material : score)[cues[k].category] += hits.h[k].value;
        }
    }
    for (i = 0; i < ALLOT_CAT__COUNT; i++)
        score[i] += material[i] < MATERIAL_CAP ? material[i] : MATERIAL_CAP;

    /* 3: structural signals */
    question = ends_with_question(user);
    if (question) {
        feat[ALLOT_CAT_ANSWER].label = user.len < SHORT_QUESTION ? "short question" : "question";
        feat[ALLOT_CAT_ANSWER].value = user.len < SHORT_QUESTION ? 2.0 : 0.5;
    }
    if (head.has_fence || (has_tail && tail.has_fence)) {
        feat[ALLOT_CAT_IMPLEMENT].label = "code block";
        feat[ALLOT_CAT_IMPLEMENT].value = 1.0;
    }
    if (head.math) {
        feat[ALLOT_CAT_SOLVE].label = "maths";
        feat[ALLOT_CAT_SOLVE].value = 1.5;
    }
    if (in && in->has_tools) {
        feat[ALLOT_CAT_DECIDE].label = "tool choice";
        feat[ALLOT_CAT_DECIDE].value = in->n_tool_results ? 1.5 : 1.0;
    }
    if (in && in->has_response_format) {
        feat[ALLOT_CAT_EXTRACT].label = "structured output";
        feat[ALLOT_CAT_EXTRACT].value = 0.75;
    }
    for (i = 0; i < ALLOT_CAT__COUNT; i++) {
        score[i] += feat[i].value;
        if (score[i] > SCORE_MAX)
            score[i] = SCORE_MAX;
        if (allot_category_default_tier((enum allot_category)i) == ALLOT_TIER_LABOUR) {
            if (score[i] > max_labour) {
                max_labour = score[i];
                best_labour = i;
            }
        } else if (score[i] > max_strong) {
            max_strong = score[i];
        }
    }

    /* 4: the strongest kind of work wins */
    if (max_labour > 0 && max_strong > 0) {
        preferred = 1;
        for (i = 0; i < ALLOT_CAT__COUNT; i++)
            if (allot_category_default_tier((enum allot_category)i) != ALLOT_TIER_LABOUR)
                score[i] *= STRONG_PREFERENCE;
    }
    for (i = 0; i < ALLOT_CAT__COUNT; i++)
        if (score[i] > 0 && (best < 0 || score[i] > score[best]))
            best = i;

    /* 5: confidence; a category without score weighs exp(0) = 1 exactly */
    for (i = 0; i < ALLOT_CAT__COUNT; i++) {
        weight[i] = score[i] == 0 ? 1.0 : exp(score[i] / TEMPERATURE);
        sum += weight[i];
    }
    if (best < 0) {
        out->category = question ? ALLOT_CAT_ANSWER : ALLOT_CAT_COMPOSE;
        out->confidence = weight[out->category] / sum;
        snprintf(out->reason, sizeof out->reason, "%s (fallback %s %.2f)",
                 user.len || system.len ? "no cue" : "no instruction",
                 allot_category_name(out->category), out->confidence);
        return;
    }
    conf = weight[best] / sum;
    if (conf > 1)
        conf = 1;
    out->category = (enum allot_category)best;
    out->confidence = conf;

    /* reason: the biggest contributor to the winner */
    for (w = 0; w < HIT_WORDS; w++) {
        uint64_t set = hits.set[w];
        while (set) {
            k = w * 64 + (size_t)__builtin_ctzll(set);
            set &= set - 1;
            if ((int)cues[k].category == best &&
                (top == N_CUES || hits.h[k].value > hits.h[top].value))
                top = k;
        }
    }
    /* the preference decided it when a labour category had scored more */
    overruled = preferred &&
                allot_category_default_tier((enum allot_category)best) != ALLOT_TIER_LABOUR &&
                max_labour > score[best] / STRONG_PREFERENCE;
    if (top < N_CUES && hits.h[top].value >= feat[best].value) {
        quote_match(hits.h[top].t, hits.h[top].pos, strlen(cues[top].text), quote, sizeof quote);
        snprintf(out->reason, sizeof out->reason, "%scue \"%s\" (%s %.2f%s%s)",
                 hits.h[top].t->system ? "system " : "", quote, allot_category_name(best), conf,
                 overruled ? ", over " : "", overruled ? allot_category_name(best_labour) : "");
    } else {
        snprintf(out->reason, sizeof out->reason, "%s (%s %.2f)",
                 feat[best].label ? feat[best].label : "cues", allot_category_name(best), conf);
    }
}

void allot_instruction_from_request(const struct allot_chat_request *r,
                                    struct allot_instruction *out)
{
    out->system = r->system;
    out->last_user = r->last_user;
    out->n_messages = r->n_messages;
    out->n_tool_results = r->n_tool_results;
    out->material_bytes = r->material_bytes;
    out->has_tools = r->has_tools;
    out->has_response_format = r->has_response_format;
}
