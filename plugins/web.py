"""Web context plugin: HTTP, browser security, performance and accessibility notes."""

from __future__ import annotations

from ai_workbench.chat.plugins import KnowledgePlugin, Section

SECTIONS: tuple[Section, ...] = (
    Section(
        "HTTP caching",
        "cache, caching, cache control, etag, last modified, max age, immutable, "
        "stale while revalidate, cdn, 304, vary, service worker",
        "Cache-Control drives caching: fingerprinted static assets get "
        "`public, max-age=31536000, immutable`; HTML usually `no-cache` (revalidate each time, "
        "not 'do not store'); private user data `private` or `no-store`. ETag/Last-Modified "
        "enable 304 revalidation. `stale-while-revalidate` serves stale content while "
        "refreshing. Vary lists request headers that change the response (Accept-Encoding, "
        "Origin for CORS); Vary: Cookie effectively disables shared caching. Purge CDNs on "
        "deploy or rely on fingerprinted URLs.",
    ),
    Section(
        "Core Web Vitals",
        "core web vital, web vital, cwv, lcp, inp, cls, fid, ttfb, fcp, lighthouse, "
        "largest contentful paint, interaction to next paint, layout shift, crux, rum",
        "Targets at the 75th percentile of real users: LCP < 2.5 s, INP < 200 ms, CLS < 0.1. "
        "LCP: serve the hero image early (preload, fetchpriority=high, no lazy-loading above "
        "the fold), cut TTFB, avoid render-blocking CSS/JS. INP: break long tasks (> 50 ms), "
        "yield to the main thread, reduce hydration and third-party work, keep event handlers "
        "light. CLS: set width/height or aspect-ratio on media, reserve space for ads and "
        "banners, use font-display with metric-compatible fallbacks. Field data (CrUX/RUM) "
        "beats lab data.",
    ),
    Section(
        "Accessibility (WCAG)",
        "accessibility, a11y, wcag, aria, screen reader, keyboard, focus, contrast, alt text, "
        "label, semantic html, tab order, axe, aria role",
        "Use native elements first: <button> for actions, <a href> for navigation, <label> "
        "bound to every input. Everything works by keyboard with a visible focus indicator; "
        "dialogs trap focus and return it on close; route changes move focus to the new "
        "content. Contrast: 4.5:1 for body text, 3:1 for large text and UI components. Images "
        "need meaningful alt text (empty alt for decoration). ARIA is a last resort - no ARIA "
        "is better than bad ARIA; live regions for async updates. Test with axe, keyboard only, "
        "and a screen reader.",
    ),
    Section(
        "CORS",
        "cors, cross origin, access control allow origin, preflight, options request, "
        "same origin, credentials, origin header",
        "CORS relaxes the same-origin policy for reading responses; it is not an access "
        "control for the server. Non-simple requests trigger an OPTIONS preflight; answer it "
        "with Access-Control-Allow-Methods/Headers and cache it with Max-Age. With credentials "
        "(cookies), Allow-Origin must echo a specific allowed origin (never `*`) plus "
        "Allow-Credentials: true and Vary: Origin. Never reflect arbitrary Origin values; "
        "validate against an allow-list including scheme and port.",
    ),
    Section(
        "XSS and Content Security Policy",
        "xss, cross site scripting, csp, content security policy, innerhtml, "
        "dangerouslysetinnerhtml, v html, sanitize, sanitise, dompurify, trusted type, nonce, "
        "unsafe inline, escaping",
        "Escape by context (HTML body, attribute, URL, JS, CSS); frameworks escape text by "
        "default, so XSS comes from innerHTML, dangerouslySetInnerHTML, v-html, "
        "`javascript:` URLs, and template injection. Sanitise untrusted HTML with a maintained "
        "sanitiser (DOMPurify). Deploy a strict CSP: `script-src 'nonce-...' 'strict-dynamic'; "
        "object-src 'none'; base-uri 'none'`, no 'unsafe-inline'; start in Report-Only. Trusted "
        "Types block DOM XSS sinks at runtime.",
    ),
    Section(
        "CSRF",
        "csrf, xsrf, cross site request forgery, samesite, csrf token, double submit, "
        "state changing",
        "CSRF abuses ambient credentials (cookies) on state-changing requests. Defences: "
        "SameSite=Lax or Strict cookies, synchroniser or double-submit tokens for cookie-based "
        "sessions, checking Origin/Sec-Fetch-Site headers, and never changing state on GET. "
        "APIs authenticated only with Authorization headers are not CSRF-prone but must then "
        "keep tokens safe from XSS.",
    ),
    Section(
        "Auth: cookies, sessions and JWT",
        "auth, authentication, login, session, cookie, jwt, token, oauth, oidc, "
        "refresh token, httponly, localstorage, bearer, pkce",
        "Session cookies: Secure, HttpOnly, SameSite=Lax, short lifetime, rotated on login "
        "(prevents fixation), server-side revocation. JWTs: verify signature and algorithm "
        "(reject `none`, pin the algorithm), check exp/nbf/iss/aud, keep them short-lived; "
        "they cannot be revoked without a deny-list. Avoid storing tokens in localStorage "
        "(readable by any XSS); for SPAs prefer a backend-for-frontend with cookies. OAuth in "
        "browsers and mobile: authorisation code flow with PKCE, never the implicit flow.",
    ),
    Section(
        "REST vs GraphQL API design",
        "rest api, restful, graphql, api design, endpoint, resolver, n+1, dataloader, "
        "pagination, versioning, status code, idempotent, openapi, grpc",
        "REST: resources and HTTP semantics - GET safe and cacheable, PUT/DELETE idempotent, "
        "correct status codes, cursor pagination, problem+json errors, idempotency keys for "
        "POSTs that create. GraphQL: flexible reads for varied clients but harder HTTP caching, "
        "N+1 resolvers (batch with DataLoader), query cost limits and depth limits, and "
        "authorisation per field. Version REST by adding fields and deprecating; GraphQL by "
        "deprecating fields. Document with OpenAPI or the schema.",
    ),
    Section(
        "Performance budget and bundles",
        "performance, perf, bundle, bundle size, javascript size, code splitting, "
        "tree shaking, lazy load, webpack, vite, esbuild, image, font, compression, "
        "performance budget",
        "Set budgets per route (e.g. < 170 KB compressed JS on mobile, LCP < 2.5 s on a mid-"
        "range phone over 4G) and fail CI when exceeded. Split code by route, lazy-load below-"
        "the-fold and rarely used features, tree-shake, drop duplicate dependencies and "
        "moment-style heavy libraries. Serve AVIF/WebP with responsive srcset, subset and "
        "preload critical fonts, compress with Brotli, use HTTP/2 or HTTP/3. Audit third-party "
        "tags: each one is a performance and security liability.",
    ),
    Section(
        "SSR, hydration and rendering strategy",
        "ssr, server side rendering, hydration, ssg, static generation, csr, rsc, "
        "server component, streaming, islands, next js, nuxt, remix, astro, hydration mismatch",
        "SSR improves first paint and SEO but costs server time and a hydration step that can "
        "hurt INP. SSG/ISR suits content that changes rarely. Streaming SSR and React Server "
        "Components send HTML progressively and ship less JS; islands hydrate only interactive "
        "parts. Hydration mismatches come from non-deterministic render output (dates, "
        "random ids, window checks, locale); render those on the client after mount or make "
        "them deterministic.",
    ),
    Section(
        "State management",
        "state management, redux, zustand, context, store, react query, tanstack, "
        "swr, url state, form state, global state, useeffect, race condition",
        "Classify state: server state (cache with React Query/SWR: dedupe, revalidate, "
        "invalidate after mutations), URL state (filters, tabs, pagination), form state, and "
        "UI state local to components. Global client stores are for genuinely shared client "
        "state only. Derive values rather than syncing copies with effects. Guard async "
        "effects against races (AbortController, ignore stale responses) and give every "
        "request loading, error and empty states.",
    ),
    Section(
        "Design systems",
        "design system, design token, component library, storybook, theming, dark mode, "
        "visual regression, css variable",
        "Encode decisions as design tokens (colour, spacing, type, radius, motion) exposed as "
        "CSS custom properties so themes and dark mode swap values, not components. Build "
        "accessible primitives once (button, dialog, menu, combobox) and compose them. Version "
        "the library semantically, deprecate before removing, document usage and accessibility "
        "notes in Storybook or similar, and guard with visual regression and a11y tests.",
    ),
    Section(
        "Security headers",
        "security header, hsts, x frame options, frame ancestors, clickjacking, "
        "referrer policy, permissions policy, x content type options, sri, "
        "subresource integrity",
        "Send Strict-Transport-Security (max-age >= 1 year, includeSubDomains after testing), "
        "CSP frame-ancestors (or X-Frame-Options: DENY) against clickjacking, "
        "X-Content-Type-Options: nosniff, Referrer-Policy: strict-origin-when-cross-origin, and a "
        "restrictive Permissions-Policy. Use Subresource Integrity for scripts from CDNs you do "
        "not control.",
    ),
)

CHECKLIST: tuple[str, ...] = (
    "Semantic HTML, keyboard access, visible focus, labels and contrast (WCAG 2.2 AA)?",
    "Core Web Vitals in the field at p75: LCP < 2.5 s, INP < 200 ms, CLS < 0.1?",
    "No untrusted HTML injected; strict CSP with nonces; cookies Secure/HttpOnly/SameSite?",
    "Cache-Control set deliberately for HTML, assets and API responses?",
    "CORS restricted to an allow-list; state-changing requests protected against CSRF?",
    "Loading, error and empty states for every async view; races handled?",
    "JS budget per route enforced in CI; images and fonts optimised?",
)


class WebPlugin(KnowledgePlugin):
    name = "Web"
    description = (
        "HTTP caching, Core Web Vitals, accessibility, browser security and front-end state"
    )
    sections = SECTIONS
    checklist = CHECKLIST
    extensions = {  # noqa: RUF012 - read-only class data
        ".html": ("accessibility", "performance"),
        ".css": ("core web vital", "design system"),
        ".scss": ("design system",),
        ".jsx": ("state management",),
        ".tsx": ("state management",),
        ".vue": ("state management",),
        ".svelte": ("state management",),
        ".graphql": ("graphql",),
        ".gql": ("graphql",),
    }
