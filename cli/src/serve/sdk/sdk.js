/* avatarium Web SDK: Gigya's accounts.* photo methods against an `avatarium serve`.
 * Load it with <script src="https://photos.example.com/sdk.js?apiKey=YOUR_API_KEY">.
 * Plain JavaScript, no dependencies. Typings: /sdk.d.ts. */
(function () {
  "use strict";
  var script = document.currentScript;
  if (!script || !script.src) return;
  var src = new URL(script.src, document.baseURI);
  var server = src.origin;
  var apiKey = src.searchParams.get("apiKey") || "";

  // Gigya's client-side code for a call that never reached the server.
  var NETWORK_ERROR = 500026;
  // Longest wait for an answer before the call ends with NETWORK_ERROR.
  var CALL_TIMEOUT_MS = 120000;

  function cookie(name) {
    var parts = document.cookie ? document.cookie.split("; ") : [];
    for (var i = 0; i < parts.length; i++) {
      var eq = parts[i].indexOf("=");
      if (eq > 0 && parts[i].slice(0, eq) === name) {
        try { return decodeURIComponent(parts[i].slice(eq + 1)); } catch (e) { return parts[i].slice(eq + 1); }
      }
    }
    return "";
  }

  function errorResponse(code, message, details, context) {
    var r = {
      errorCode: code, errorMessage: message, errorDetails: details,
      statusCode: Math.floor(code / 1000) || 500, statusReason: "", callId: "",
      time: new Date().toISOString(), apiVersion: 2
    };
    if (context !== undefined) r.context = context;
    return r;
  }

  // Params sent as given; functions and undefined dropped; objects as JSON text.
  // With a File or Blob, a multipart body whose `photo` part is the file as it is (no
  // base64; like a form post, it needs no CORS preflight).
  function encode(params, photo) {
    var form = photo ? new FormData() : new URLSearchParams();
    Object.keys(params).forEach(function (k) {
      var v = params[k];
      if (v === undefined || v === null || typeof v === "function") return;
      form.append(k, typeof v === "object" ? JSON.stringify(v) : String(v));
    });
    if (photo) form.append("photo", photo, photo.name || "photo");
    return form;
  }

  function send(method, params, cookieName) {
    var p = {};
    Object.keys(params).forEach(function (k) {
      // `context` stays here and is put back as given (any value, not its text).
      if (k !== "callback" && k !== "photo" && k !== "cookieName" && k !== "context") p[k] = params[k];
    });
    // The session names the user: the SDK never sends a UID, and sends the cookie's
    // value only where no regToken was given.
    delete p.UID;
    if (!p.regToken && !p.login_token) {
      var token = cookie(cookieName || "glt_" + apiKey);
      if (token) p.login_token = token;
    }
    var photo = typeof Blob !== "undefined" && params.photo instanceof Blob ? params.photo : null;
    return Promise.resolve().then(function () {
      return fetch(server + "/accounts." + method + "?apiKey=" + encodeURIComponent(apiKey), {
        method: "POST",
        body: encode(p, photo),
        credentials: "omit",
        mode: "cors",
        // A stalled connection still ends in a response (the server's own limits are
        // seconds; this only catches a network that never answers).
        signal: typeof AbortSignal !== "undefined" && AbortSignal.timeout ? AbortSignal.timeout(CALL_TIMEOUT_MS) : undefined
      });
    }).then(function (res) {
      return res.json();
    }).then(function (r) {
      if (!r || typeof r.errorCode !== "number") {
        return errorResponse(NETWORK_ERROR, "Network error", "The server's answer is not an envelope", params.context);
      }
      if (params.context !== undefined) r.context = params.context;
      if (method === "logout" && r.errorCode === 0 && p.login_token) {
        // The session is over: the page forgets it too (the cookie is this page's own).
        // A page that may not write cookies (a sandboxed frame) still gets its answer.
        try { document.cookie = (cookieName || "glt_" + apiKey) + "=; Max-Age=0; path=/"; } catch (e) { /* kept */ }
      }
      return r;
    }).catch(function (e) {
      return errorResponse(NETWORK_ERROR, "Network error",
        "The call did not reach the server or was refused by the browser (is this page's origin in the site's allowed_origins?)",
        params.context);
    });
  }

  // One method: callback(response) exactly once and never a throw; or a Promise.
  function method(name) {
    return function (params) {
      params = params && typeof params === "object" ? params : {};
      var callback = typeof params.callback === "function" ? params.callback : null;
      var done;
      try {
        done = send(name, params, params.cookieName);
      } catch (e) {
        done = Promise.resolve(errorResponse(400006, "Invalid parameter value", String(e), params.context));
      }
      if (!callback) return done;
      done.then(function (r) {
        try { callback(r); } catch (e) { setTimeout(function () { throw e; }); }
      });
      return undefined;
    };
  }

  var names = [
    "importProfilePhoto", "setProfilePhoto", "publishProfilePhoto", "getAccountInfo",
    "removeProfilePhoto", "initRegistration", "finalizeRegistration", "logout"
  ];
  var accounts = {};
  names.forEach(function (n) { accounts[n] = method(n); });
  accounts.uploadProfilePhoto = accounts.setProfilePhoto;
  var sdk = { accounts: accounts, apiKey: apiKey, server: server };
  window.avatarium = sdk;
  if (!window.gigya) window.gigya = sdk;
})();
