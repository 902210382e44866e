/*
 * xmldoc.c — small XML documents read as plain data. See xmldoc.h.
 */
#include "xmldoc.h"

#include <glib.h>
#include <libxml/parser.h>
#include <string.h>

xmlDoc *xgw_xml_read(const char *data, size_t len, size_t max_bytes, const char **why)
{
    if (len > max_bytes) {
        *why = "document too large";
        return NULL;
    }
    xmlDoc *doc = xmlReadMemory(data, (int)len, "peer.xml", NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!doc) {
        *why = "not well-formed XML";
        return NULL;
    }
    if (doc->intSubset || doc->extSubset) {
        xmlFreeDoc(doc);
        *why = "a DTD is not allowed";
        return NULL;
    }
    if (!xmlDocGetRootElement(doc)) {
        xmlFreeDoc(doc);
        *why = "no root element";
        return NULL;
    }
    return doc;
}

bool xgw_xml_is(const xmlNode *n, const char *ns, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && n->ns && n->ns->href &&
           strcmp((const char *)n->ns->href, ns) == 0 &&
           (!name || strcmp((const char *)n->name, name) == 0);
}

xmlNode *xgw_xml_child(const xmlNode *n, const char *ns, const char *name)
{
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (xgw_xml_is(c, ns, name))
            return c;
    return NULL;
}

char *xgw_xml_text(const xmlNode *n, size_t max, bool trim)
{
    xmlChar *t = xmlNodeGetContent(n);
    char *s = g_strdup(t ? (const char *)t : "");
    if (trim)
        g_strstrip(s);
    xmlFree(t);
    if (strlen(s) > max || !g_utf8_validate(s, -1, NULL)) {
        g_free(s);
        return NULL;
    }
    return s;
}

const char *xgw_xml_lang(const xmlNode *n)
{
    for (; n && n->type == XML_ELEMENT_NODE; n = n->parent) {
        for (xmlAttr *a = n->properties; a; a = a->next)
            if (a->ns && a->ns->href &&
                strcmp((const char *)a->ns->href, (const char *)XML_XML_NAMESPACE) == 0 &&
                strcmp((const char *)a->name, "lang") == 0 && a->children && a->children->content)
                return (const char *)a->children->content;
    }
    return NULL;
}
