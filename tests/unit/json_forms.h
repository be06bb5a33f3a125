/* json_forms.h: valid JSON texts at the edges of the grammar (numbers,
 * escapes, UTF-8 lengths, nesting, whitespace), which the strict check
 * must accept (test_json_check.c) and the tree reader must read as cJSON
 * does (test_json_tree.c). */
#ifndef ALLOT_TEST_JSON_FORMS_H
#define ALLOT_TEST_JSON_FORMS_H

static const char *const json_valid_forms[] = {
    "0",
    "-0",
    "-0.0e-0",
    "1E+2",
    "1e999",
    "-1.5E-300",
    "123456789012345678901234567890",
    "\"\"",
    "true",
    "false",
    " \t\r\n null \n",
    "[]",
    "{}",
    "[ ]",
    "{ }",
    "[[],{},[[]]]",
    "{\"a\":[1,{\"b\":null}],\"a\":2}",
    "[0,-0,1,10]",
    /* every escape, a surrogate pair, escaped and raw keys */
    "\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u00e9 \\uD83D\\uDE00 \\uFFFF\"",
    "{\"\\u006dodel\":\"m\"}",
    /* raw UTF-8 at the edges of each length: U+0080, U+07FF, U+0800,
     * U+D7FF, U+E000, U+FFFF, U+10000, U+10FFFF */
    ("\"\xC2\x80 \xDF\xBF \xE0\xA0\x80 \xED\x9F\xBF \xEE\x80\x80 \xEF\xBF\xBF \xF0\x90\x80\x80 "
     "\xF4\x8F\xBF\xBF\""),
    /* DEL is not a control character */
    "\"\x7F\"",
};
#define JSON_VALID_FORMS_N (sizeof json_valid_forms / sizeof json_valid_forms[0])

#endif
