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
 * Nothing here allocates or keeps state: all buffers are on the stack. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
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

/* Normalized text of one window, with the offset in the message of each
 * byte (windows are at most HEAD_MAX bytes, so uint16_t suffices). */
struct text {
    char s[HEAD_MAX];
    uint16_t off[HEAD_MAX];
    size_t n;
    size_t base;       /* message offset of the window */
    size_t head_end;   /* instruction zones of the message: [0, head_end) */
    size_t tail_start; /* and [tail_start, end); the rest is material */
    int text_start;    /* s starts where the message starts */
    int system;        /* a system prompt window */
    int has_fence;     /* saw ``` */
    int math;          /* maths symbols seen outside fences */
};

struct hit {
    double value;         /* best contribution, 0 = none */
    int material;         /* ... found outside the instruction zones */
    const struct text *t; /* where it was found, for the reason */
    size_t pos;
};

static int is_word(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c >= 0x80;
}

static void emit(struct text *t, char c, size_t off)
{
    /* fold blanks: a newline wins over a space; nothing at the start */
    if (c == ' ' || c == '\n') {
        if (t->n == 0)
            return;
        if (t->s[t->n - 1] == '\n' || (t->s[t->n - 1] == ' ' && c == ' '))
            return;
        if (t->s[t->n - 1] == ' ') {
            t->s[t->n - 1] = c;
            return;
        }
    }
    t->s[t->n] = c;
    t->off[t->n] = (uint16_t)off;
    t->n++;
}

/* Normalize p[base, base + n) into t. n <= HEAD_MAX. in_fence: the window
 * starts inside a code fence. */
static void normalize(struct text *t, const char *p, size_t base, size_t n, int in_fence)
{
    const unsigned char *s = (const unsigned char *)p + base;
    size_t i = 0, digits = 0, ops = 0;

    t->n = 0;
    t->base = base;
    t->has_fence = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c == '`' && i + 2 < n && s[i + 1] == '`' && s[i + 2] == '`') {
            in_fence = !in_fence;
            t->has_fence = 1;
            emit(t, '\n', i);
            i += 3;
            continue;
        }
        if (in_fence) {
            i++;
            continue;
        }
        if (c == 0xE2 && i + 2 < n && s[i + 1] == 0x80) {
            unsigned char d = s[i + 2];
            char r = d == 0x98 || d == 0x99   ? '\''
                     : d == 0x9C || d == 0x9D ? '"'
                     : d == 0x93 || d == 0x94 ? '-'
                                              : 0;
            if (r) {
                emit(t, r, i);
                i += 3;
                continue;
            }
        }
        if (c == 0xE2 && i + 2 < n && s[i + 1] == 0x88) /* U+2200 maths operators */
            ops++;
        if (c == '=' || c == '^')
            ops++;
        if (c >= '0' && c <= '9')
            digits++;
        if (c == '\n')
            emit(t, '\n', i);
        else if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v')
            emit(t, ' ', i);
        else
            emit(t, (char)(c >= 'A' && c <= 'Z' ? c + 32 : c), i);
        i++;
    }
    t->math = ops >= 2 && digits > 0;
}

/* Length of the match of cue at s[p], or 0. */
static size_t match_at(const struct text *t, size_t p, const struct cue *cue)
{
    size_t i = 0;
    const char *c = cue->text;

    for (; c[i]; i++) {
        if (p + i >= t->n)
            return 0;
        if (c[i] == ' ' ? (t->s[p + i] != ' ' && t->s[p + i] != '\n') : t->s[p + i] != c[i])
            return 0;
    }
    if (!(cue->flags & F_STEM) && p + i < t->n && is_word((unsigned char)t->s[p + i]))
        return 0;
    return i;
}

static int word_in(const char *w, size_t n, const char *const *set, size_t count)
{
    size_t i;
    for (i = 0; i < count; i++)
        if (strlen(set[i]) == n && memcmp(set[i], w, n) == 0)
            return 1;
    return 0;
}

/* The multiplier for the words before a match at s[p] (see the top
 * comment): imperative 1.5, noun after a determiner 0.3, else 1. */
static double context_factor(const struct text *t, size_t p, const struct cue *cue)
{
    size_t q = p, w;

    while (q > 0 && t->s[q - 1] == ' ')
        q--;
    if (q == 0)
        return t->text_start ? 1.5 : 1.0;
    if (!is_word((unsigned char)t->s[q - 1]))
        return strchr("\n.!?:;()\"'*#>-", t->s[q - 1]) ? 1.5 : 1.0;
    w = q;
    while (w > 0 && is_word((unsigned char)t->s[w - 1]))
        w--;
    if ((cue->flags & F_VERB) &&
        (word_in(t->s + w, q - w, determiners, sizeof determiners / sizeof determiners[0]) ||
         (t->s[w] >= '0' && t->s[w] <= '9')))
        return 0.3;
    if (word_in(t->s + w, q - w, lead_ins, sizeof lead_ins / sizeof lead_ins[0]))
        return 1.5;
    return 1.0;
}

static void match_text(const struct text *t, struct hit *hits)
{
    size_t p, k, orig;
    int material;
    double v;

    for (p = 0; p < t->n; p++) {
        if ((p > 0 && is_word((unsigned char)t->s[p - 1])) || !is_word((unsigned char)t->s[p]))
            continue;
        orig = t->base + t->off[p];
        material = !t->system && orig >= t->head_end && orig < t->tail_start;
        for (k = 0; k < N_CUES; k++) {
            if (cues[k].text[0] != t->s[p] || !match_at(t, p, &cues[k]))
                continue;
            v = cues[k].weight * context_factor(t, p, &cues[k]) *
                (t->system  ? SYSTEM_FACTOR
                 : material ? MATERIAL_FACTOR
                            : 1.0);
            if (v > hits[k].value) {
                hits[k].value = v;
                hits[k].material = material;
                hits[k].t = t;
                hits[k].pos = p;
            }
        }
    }
}

/* The message ends with '?' (ignoring trailing blanks). */
static int ends_with_question(struct allot_slice s)
{
    size_t n = s.len;
    while (n > 0 && strchr(" \t\r\n", s.ptr[n - 1]))
        n--;
    return n > 0 && s.ptr[n - 1] == '?';
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
 * has POS_EDGE bytes at each end. Only the head and tail windows are read. */
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
        for (j = i + 1; j < n && (p[j] == ' ' || p[j] == '\t' || p[j] == '\r'); j++)
            ;
        if (j < n && p[j] == '\n' && i > 0) {
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
        for (j = i - 1; j > 0 && (p[j - 1] == ' ' || p[j - 1] == '\t' || p[j - 1] == '\r'); j--)
            ;
        if (j > 0 && p[j - 1] == '\n') {
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

struct feature {
    const char *label;
    double value;
};

void allot_classify(const struct allot_instruction *in, struct allot_classification *out)
{
    struct text head, tail, sys;
    struct hit hits[N_CUES];
    struct feature feat[ALLOT_CAT__COUNT];
    double score[ALLOT_CAT__COUNT], material[ALLOT_CAT__COUNT], weight[ALLOT_CAT__COUNT];
    double sum = 0, max_labour = 0, max_strong = 0, conf;
    struct allot_slice user = in ? in->last_user : allot_slice_of("", 0);
    struct allot_slice system = in ? in->system : allot_slice_of("", 0);
    int i, best = -1, best_labour = -1, preferred = 0, has_tail = 0, question, overruled;
    size_t k, top = N_CUES, head_end, tail_start;
    char quote[QUOTE_MAX + 1];

    memset(hits, 0, sizeof hits);
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
    match_text(&head, hits);
    if (user.len > HEAD_MAX) {
        size_t b = user.len - TAIL_MAX > HEAD_MAX ? user.len - TAIL_MAX : HEAD_MAX;
        /* start on a word boundary so no half word is matched */
        while (b < user.len && is_word((unsigned char)user.ptr[b]))
            b++;
        tail.text_start = 0;
        tail.system = 0;
        normalize(&tail, user.ptr, b, user.len - b, odd_fences(user.ptr + b, user.len - b));
        match_text(&tail, hits);
        has_tail = 1;
    }
    sys.text_start = 1;
    sys.system = 1;
    sys.head_end = sys.tail_start = system.len;
    normalize(&sys, system.ptr, 0, system.len < SYSTEM_MAX ? system.len : SYSTEM_MAX, 0);
    match_text(&sys, hits);

    for (i = 0; i < ALLOT_CAT__COUNT; i++)
        score[i] = material[i] = 0;
    for (k = 0; k < N_CUES; k++)
        (hits[k].material ? material : score)[cues[k].category] += hits[k].value;
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

    /* 5: confidence */
    for (i = 0; i < ALLOT_CAT__COUNT; i++) {
        weight[i] = exp(score[i] / TEMPERATURE);
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
    for (k = 0; k < N_CUES; k++)
        if ((int)cues[k].category == best && hits[k].value > 0 &&
            (top == N_CUES || hits[k].value > hits[top].value))
            top = k;
    /* the preference decided it when a labour category had scored more */
    overruled = preferred &&
                allot_category_default_tier((enum allot_category)best) != ALLOT_TIER_LABOUR &&
                max_labour > score[best] / STRONG_PREFERENCE;
    if (top < N_CUES && hits[top].value >= feat[best].value) {
        quote_match(hits[top].t, hits[top].pos, strlen(cues[top].text), quote, sizeof quote);
        snprintf(out->reason, sizeof out->reason, "%scue \"%s\" (%s %.2f%s%s)",
                 hits[top].t->system ? "system " : "", quote, allot_category_name(best), conf,
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
