// Show a conditional question only once the earlier answer it depends on
// holds. Without JavaScript every question shows, with its condition in
// words, and the server ignores answers whose condition does not hold.
(function () {
  var form = document.querySelector("form.survey");
  if (!form) return;
  var conditional = form.querySelectorAll("[data-when]");
  if (!conditional.length) return;

  function answers(key) {
    var found = [];
    form.querySelectorAll('[name="q-' + key + '"]').forEach(function (input) {
      var picked = input.type === "radio" || input.type === "checkbox" ? input.checked : input.value.trim() !== "";
      if (picked) found.push(input.value);
    });
    return found;
  }

  function holds(el) {
    var given = answers(el.dataset.when);
    if (!given.length) return false;
    if (el.dataset.whenIn) {
      var allowed = el.dataset.whenIn.split(" ");
      return given.some(function (value) { return allowed.indexOf(value) >= 0; });
    }
    var n = parseInt(given[0], 10);
    if (isNaN(n)) return false;
    if (el.dataset.atLeast && n < parseInt(el.dataset.atLeast, 10)) return false;
    if (el.dataset.atMost && n > parseInt(el.dataset.atMost, 10)) return false;
    return true;
  }

  function update() {
    conditional.forEach(function (el) {
      el.hidden = !holds(el);
      el.querySelectorAll(".condition").forEach(function (note) { note.hidden = true; });
    });
  }

  form.addEventListener("change", update);
  update();
})();
