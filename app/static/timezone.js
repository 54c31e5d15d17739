// Pre-fill the time zone from the browser; the person can still change it.
(function () {
  var field = document.querySelector("[data-detect-timezone]");
  if (!field || field.value) return;
  try {
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (zone) field.value = zone;
  } catch (e) { /* an old browser: the person types it */ }
})();
