-- Generated container names in docker's style: adjective_surname (moby's namesgenerator), with a
-- digit appended on a retry.
local M = {}

M.left = {
  "admiring", "adoring", "affectionate", "agitated", "amazing", "angry", "awesome", "beautiful",
  "blissful", "bold", "boring", "brave", "busy", "charming", "clever", "compassionate",
  "competent", "condescending", "confident", "cool", "cranky", "crazy", "dazzling", "determined",
  "distracted", "dreamy", "eager", "ecstatic", "elastic", "elated", "elegant", "eloquent", "epic",
  "exciting", "fervent", "festive", "flamboyant", "focused", "friendly", "frosty", "funny",
  "gallant", "gifted", "goofy", "gracious", "great", "happy", "hardcore", "heuristic", "hopeful",
  "hungry", "infallible", "inspiring", "intelligent", "interesting", "jolly", "jovial", "keen",
  "kind", "laughing", "loving", "lucid", "magical", "modest", "musing", "mystifying", "naughty",
  "nervous", "nice", "nifty", "nostalgic", "objective", "optimistic", "peaceful", "pedantic",
  "pensive", "practical", "priceless", "quirky", "quizzical", "recursing", "relaxed", "reverent",
  "romantic", "sad", "serene", "sharp", "silly", "sleepy", "stoic", "strange", "stupefied",
  "suspicious", "sweet", "tender", "thirsty", "trusting", "unruffled", "upbeat", "vibrant",
  "vigilant", "vigorous", "wizardly", "wonderful", "xenodochial", "youthful", "zealous", "zen",
}

M.right = {
  "agnesi", "albattani", "allen", "almeida", "archimedes", "ardinghelli", "aryabhata", "austin",
  "babbage", "banach", "bardeen", "bartik", "bassi", "bell", "benz", "bhabha", "bhaskara",
  "blackwell", "bohr", "booth", "borg", "bose", "boyd", "brahmagupta", "brattain", "brown",
  "carson", "cerf", "chandrasekhar", "chaplygin", "chatelet", "chebyshev", "clarke", "cohen",
  "colden", "cori", "cray", "curie", "darwin", "davinci", "dijkstra", "dubinsky", "easley",
  "edison", "einstein", "elion", "engelbart", "euclid", "euler", "fermat", "fermi", "feynman",
  "franklin", "galileo", "gates", "goldberg", "goldstine", "goldwasser", "golick", "goodall",
  "haibt", "hamilton", "hawking", "heisenberg", "hermann", "hodgkin", "hoover", "hopper", "hugle",
  "hypatia", "jackson", "jang", "jennings", "jepsen", "johnson", "joliot", "jones", "kalam",
  "kapitsa", "keller", "kepler", "khorana", "kilby", "kirch", "knuth", "kowalevski", "lalande",
  "lamarr", "lamport", "leakey", "leavitt", "lewin", "lichterman", "liskov", "lovelace",
  "lumiere", "mahavira", "mayer", "mccarthy", "mcclintock", "mclean", "mcnulty", "meitner",
  "mendel", "merkle", "mirzakhani", "montalcini", "moore", "morse", "murdock", "napier", "nash",
  "neumann", "newton", "nobel", "noether", "northcutt", "noyce", "panini", "pare", "pascal",
  "pasteur", "payne", "perlman", "pike", "poincare", "poitras", "ptolemy", "raman", "ramanujan",
  "ride", "ritchie", "robinson", "roentgen", "rosalind", "rubin", "saha", "sammet", "shannon",
  "shaw", "shirley", "shockley", "sinoussi", "snyder", "spence", "stallman", "stonebraker",
  "swanson", "swartz", "swirles", "tesla", "thompson", "torvalds", "turing", "varahamihira",
  "villani", "visvesvaraya", "volhard", "wescoff", "wiles", "williams", "wilson", "wing",
  "wozniak", "wright", "yalow", "yonath",
}

--- A random name; retry > 0 appends a digit, as docker does after a clash.
function M.generate(retry, rand)
  rand = rand or math.random
  local name = M.left[rand(#M.left)] .. "_" .. M.right[rand(#M.right)]
  if name == "boring_wozniak" then -- Steve Wozniak is not boring (moby's rule)
    return M.generate(retry, rand)
  end
  if retry and retry > 0 then
    name = name .. rand(0, 9)
  end
  return name
end

return M
