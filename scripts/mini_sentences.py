"""Hand-written sentence tables for the synthetic mini benchmark (see make_mini_benchmark.py).

Kept apart from the generator so the text content can be reviewed (and extended) without reading
audio code. All sentences were written for this project and are released under CC0.
Sentences are short (4 to 9 words) so that espeak-ng renders them in 1-3 s and the whole
benchmark stays a few megabytes.
"""

from __future__ import annotations

from xtreme_s import registry

# --------------------------------------------------------------------------------------------
# FLEURS: a parallel corpus. Row k is the same sentence in every language, so it gets the same
# FLEURS ``id`` in every locale (this is what makes FLEURS usable for cross-lingual retrieval).
# --------------------------------------------------------------------------------------------
FLEURS_LANGS: tuple[str, ...] = ("en", "fr", "de", "es", "pl", "sw")

FLEURS_SENTENCES: tuple[dict[str, str], ...] = (
    {
        "en": "The weather is very nice today.",
        "fr": "Il fait très beau aujourd'hui.",
        "de": "Das Wetter ist heute sehr schön.",
        "es": "El clima está muy agradable hoy.",
        "pl": "Dzisiaj pogoda jest bardzo ładna.",
        "sw": "Hali ya hewa ni nzuri sana leo.",
    },
    {
        "en": "My brother works at the hospital.",
        "fr": "Mon frère travaille à l'hôpital.",
        "de": "Mein Bruder arbeitet im Krankenhaus.",
        "es": "Mi hermano trabaja en el hospital.",
        "pl": "Mój brat pracuje w szpitalu.",
        "sw": "Kaka yangu anafanya kazi hospitalini.",
    },
    {
        "en": "We usually eat dinner at seven.",
        "fr": "Nous dînons généralement à sept heures.",
        "de": "Wir essen normalerweise um sieben zu Abend.",
        "es": "Normalmente cenamos a las siete.",
        "pl": "Zwykle jemy kolację o siódmej.",
        "sw": "Kwa kawaida tunakula chakula cha jioni saa moja.",
    },
    {
        "en": "The train leaves from platform three.",
        "fr": "Le train part du quai numéro trois.",
        "de": "Der Zug fährt von Gleis drei ab.",
        "es": "El tren sale del andén tres.",
        "pl": "Pociąg odjeżdża z peronu trzeciego.",
        "sw": "Treni inaondoka kutoka jukwaa la tatu.",
    },
    {
        "en": "Please close the window before you leave.",
        "fr": "Ferme la fenêtre avant de partir, s'il te plaît.",
        "de": "Bitte schließ das Fenster, bevor du gehst.",
        "es": "Por favor, cierra la ventana antes de salir.",
        "pl": "Zamknij proszę okno, zanim wyjdziesz.",
        "sw": "Tafadhali funga dirisha kabla hujaondoka.",
    },
    {
        "en": "Children are playing football in the park.",
        "fr": "Les enfants jouent au football dans le parc.",
        "de": "Die Kinder spielen Fußball im Park.",
        "es": "Los niños juegan al fútbol en el parque.",
        "pl": "Dzieci grają w piłkę nożną w parku.",
        "sw": "Watoto wanacheza mpira wa miguu bustanini.",
    },
    {
        "en": "She bought fresh bread at the market.",
        "fr": "Elle a acheté du pain frais au marché.",
        "de": "Sie hat frisches Brot auf dem Markt gekauft.",
        "es": "Ella compró pan fresco en el mercado.",
        "pl": "Kupiła świeży chleb na targu.",
        "sw": "Alinunua mkate mpya sokoni.",
    },
    {
        "en": "The library opens at nine in the morning.",
        "fr": "La bibliothèque ouvre à neuf heures du matin.",
        "de": "Die Bibliothek öffnet um neun Uhr morgens.",
        "es": "La biblioteca abre a las nueve de la mañana.",
        "pl": "Biblioteka otwiera się o dziewiątej rano.",
        "sw": "Maktaba inafunguliwa saa tatu asubuhi.",
    },
    {
        "en": "I drink coffee with milk every morning.",
        "fr": "Je bois du café au lait tous les matins.",
        "de": "Ich trinke jeden Morgen Kaffee mit Milch.",
        "es": "Tomo café con leche todas las mañanas.",
        "pl": "Każdego ranka piję kawę z mlekiem.",
        "sw": "Mimi hunywa kahawa na maziwa kila asubuhi.",
    },
    {
        "en": "The river flows slowly towards the sea.",
        "fr": "La rivière coule lentement vers la mer.",
        "de": "Der Fluss fließt langsam zum Meer.",
        "es": "El río fluye lentamente hacia el mar.",
        "pl": "Rzeka płynie powoli w stronę morza.",
        "sw": "Mto unatiririka polepole kuelekea baharini.",
    },
    {
        "en": "Our teacher told us an interesting story.",
        "fr": "Notre professeur nous a raconté une histoire intéressante.",
        "de": "Unser Lehrer hat uns eine spannende Geschichte erzählt.",
        "es": "Nuestro profesor nos contó una historia interesante.",
        "pl": "Nauczyciel opowiedział nam ciekawą historię.",
        "sw": "Mwalimu wetu alitusimulia hadithi ya kuvutia.",
    },
    {
        "en": "It rained heavily during the night.",
        "fr": "Il a beaucoup plu pendant la nuit.",
        "de": "In der Nacht hat es stark geregnet.",
        "es": "Llovió mucho durante la noche.",
        "pl": "W nocy bardzo mocno padało.",
        "sw": "Mvua kubwa ilinyesha usiku kucha.",
    },
    {
        "en": "The shop is closed on Sundays.",
        "fr": "Le magasin est fermé le dimanche.",
        "de": "Das Geschäft ist sonntags geschlossen.",
        "es": "La tienda está cerrada los domingos.",
        "pl": "Sklep jest zamknięty w niedziele.",
        "sw": "Duka limefungwa siku za Jumapili.",
    },
    {
        "en": "He plays the guitar in a small band.",
        "fr": "Il joue de la guitare dans un petit groupe.",
        "de": "Er spielt Gitarre in einer kleinen Band.",
        "es": "Él toca la guitarra en una banda pequeña.",
        "pl": "On gra na gitarze w małym zespole.",
        "sw": "Yeye hupiga gitaa katika bendi ndogo.",
    },
)

# --------------------------------------------------------------------------------------------
# Multilingual LibriSpeech: audiobook-like narrative sentences (14 per language:
# 8 for 9_hours, 3 dev, 3 test). Stored cased; the generator lowercases and strips punctuation.
# --------------------------------------------------------------------------------------------
MLS_SENTENCES: dict[str, tuple[str, ...]] = {
    "polish": (
        "Stary zamek stał na wysokim wzgórzu nad rzeką.",
        "Wieczorem w karczmie zebrali się mieszkańcy wsi.",
        "Młody rycerz wyruszył w daleką podróż.",
        "Deszcz padał przez całą noc aż do świtu.",
        "Księżniczka spojrzała na pusty dziedziniec.",
        "Nikt nie wiedział, skąd przybył wędrowiec.",
        "W lesie panowała głęboka cisza.",
        "Ojciec opowiadał dzieciom historie o dawnych czasach.",
        "Statek powoli odpływał od brzegu.",
        "Stara kobieta mieszkała sama w małej chatce.",
        "Wiatr szumiał w gałęziach wysokich sosen.",
        "Rano słońce oświetliło dolinę złotym blaskiem.",
        "Kupiec liczył monety przy świetle świecy.",
        "Po długiej zimie wreszcie nadeszła wiosna.",
    ),
    "german": (
        "Der alte Müller wohnte allein am Rande des Dorfes.",
        "Am Abend kehrten die Jäger müde aus dem Wald zurück.",
        "Die Königin ließ den jungen Ritter zu sich rufen.",
        "Draußen tobte ein heftiger Sturm über dem Meer.",
        "Niemand wusste, woher der fremde Reisende kam.",
        "Das Mädchen fand einen goldenen Schlüssel im Garten.",
        "Die Glocken der Kirche läuteten zum Abendgebet.",
        "Er schrieb jeden Abend einen Brief an seine Mutter.",
        "Über den Feldern lag ein dichter grauer Nebel.",
        "Der Kaufmann zählte sein Geld beim Licht der Kerze.",
        "Im Winter war der kleine See ganz zugefroren.",
        "Der Hund bellte laut, als es an der Tür klopfte.",
        "Sie wanderten viele Tage durch die fremden Berge.",
        "Endlich kam der Frühling, und die Bäume blühten.",
    ),
}

# --------------------------------------------------------------------------------------------
# VoxPopuli: European Parliament style sentences (8 train, 3 validation, 3 test per language).
# --------------------------------------------------------------------------------------------
VOXPOPULI_SENTENCES: dict[str, tuple[str, ...]] = {
    "pl": (
        "Panie Przewodniczący, dziękuję za udzielenie mi głosu.",
        "Musimy wspierać małe i średnie przedsiębiorstwa.",
        "Ta dyrektywa jest bardzo ważna dla obywateli.",
        "Komisja powinna przedstawić konkretne propozycje.",
        "Bezpieczeństwo energetyczne to nasz wspólny cel.",
        "Popieram to sprawozdanie w całości.",
        "Rolnicy potrzebują stabilnych zasad wsparcia.",
        "Nie możemy ignorować problemów klimatycznych.",
        "Chciałbym podziękować sprawozdawcy za jego pracę.",
        "Unia Europejska musi mówić jednym głosem.",
        "Głosowałem za przyjęciem tej rezolucji.",
        "Potrzebujemy większej przejrzystości w budżecie.",
        "Prawa człowieka muszą być zawsze szanowane.",
        "Dziękuję bardzo za uwagę.",
    ),
    "cs": (
        "Pane předsedající, děkuji za slovo.",
        "Musíme podporovat malé a střední podniky.",
        "Tato směrnice je velmi důležitá pro občany.",
        "Komise by měla předložit konkrétní návrhy.",
        "Energetická bezpečnost je naším společným cílem.",
        "Tuto zprávu plně podporuji.",
        "Zemědělci potřebují stabilní pravidla podpory.",
        "Nemůžeme ignorovat problémy se změnou klimatu.",
        "Chtěl bych poděkovat zpravodaji za jeho práci.",
        "Evropská unie musí mluvit jedním hlasem.",
        "Hlasoval jsem pro přijetí tohoto usnesení.",
        "Potřebujeme větší transparentnost v rozpočtu.",
        "Lidská práva musí být vždy respektována.",
        "Děkuji vám za pozornost.",
    ),
}

# --------------------------------------------------------------------------------------------
# MInDS-14: e-banking intents. Order of MINDS14_INTENTS is the ClassLabel order of the Hub dataset.
# Per locale and intent: 4 phrasings (2 train / 1 dev / 1 test). French rows carry their English
# translation (``english_transcription``); for en-US the English text is the transcription itself.
# --------------------------------------------------------------------------------------------
MINDS14_INTENTS: tuple[str, ...] = registry.MINDS14_INTENTS

MINDS14_EN: dict[str, tuple[str, ...]] = {
    "abroad": (
        "I am travelling abroad next week",
        "Can I use my card in another country",
        "Will my card work overseas",
        "I am going abroad for my holidays",
    ),
    "address": (
        "I need to change my home address",
        "How do I update my address",
        "I have moved to a new house",
        "Please update my postal address",
    ),
    "app_error": (
        "The banking app keeps crashing",
        "Your app shows an error message",
        "I can't log in to the mobile app",
        "The app is not working on my phone",
    ),
    "atm_limit": (
        "What is my cash machine limit",
        "How much can I withdraw at an ATM",
        "I want to raise my ATM limit",
        "What is the daily ATM withdrawal limit",
    ),
    "balance": (
        "What is my account balance",
        "How much money do I have",
        "Can you check my balance please",
        "I want to know my current balance",
    ),
    "business_loan": (
        "I want a loan for my business",
        "How do I apply for a business loan",
        "My company needs some financing",
        "What are your business loan rates",
    ),
    "card_issues": (
        "My card is not working",
        "My card was declined at the shop",
        "My bank card is damaged",
        "The chip on my card is broken",
    ),
    "cash_deposit": (
        "I want to deposit some cash",
        "How can I pay cash into my account",
        "Where can I deposit cash",
        "Can I deposit money at a branch",
    ),
    "direct_debit": (
        "I want to set up a direct debit",
        "How do I cancel a direct debit",
        "A direct debit was taken twice",
        "Please stop my direct debit",
    ),
    "freeze": (
        "I want to freeze my card",
        "Please block my card right now",
        "How do I freeze my account",
        "I lost my card please freeze it",
    ),
    "high_value_payment": (
        "I need to make a large payment",
        "How do I send a high value transfer",
        "I want to pay twenty thousand dollars",
        "Can I transfer a big amount today",
    ),
    "joint_account": (
        "I want to open a joint account",
        "Can I add my wife to my account",
        "How do I set up a joint account",
        "We would like a shared account",
    ),
    "latest_transactions": (
        "Show me my latest transactions",
        "What were my recent payments",
        "I want to see my last transactions",
        "Can you list my recent purchases",
    ),
    "pay_bill": (
        "I want to pay my electricity bill",
        "How do I pay a bill online",
        "Please pay my phone bill",
        "I need to pay my water bill",
    ),
}

# (French transcription, English translation)
MINDS14_FR: dict[str, tuple[tuple[str, str], ...]] = {
    "abroad": (
        ("Je pars à l'étranger la semaine prochaine", "I am going abroad next week"),
        ("Puis-je utiliser ma carte dans un autre pays", "Can I use my card in another country"),
        ("Ma carte fonctionne-t-elle à l'étranger", "Does my card work abroad"),
        ("Je voyage hors de France le mois prochain", "I am travelling outside France next month"),
    ),
    "address": (
        ("Je dois changer mon adresse", "I need to change my address"),
        ("Comment mettre à jour mon adresse", "How do I update my address"),
        ("J'ai déménagé dans une nouvelle maison", "I have moved to a new house"),
        ("Veuillez modifier mon adresse postale", "Please change my postal address"),
    ),
    "app_error": (
        ("L'application bancaire plante sans arrêt", "The banking app keeps crashing"),
        ("Votre application affiche un message d'erreur", "Your app shows an error message"),
        ("Je n'arrive pas à me connecter à l'application", "I can't log in to the app"),
        ("L'application ne marche pas sur mon téléphone", "The app does not work on my phone"),
    ),
    "atm_limit": (
        ("Quel est mon plafond de retrait", "What is my withdrawal limit"),
        ("Combien puis-je retirer au distributeur", "How much can I withdraw at the cash machine"),
        ("Je veux augmenter mon plafond de retrait", "I want to raise my withdrawal limit"),
        ("Quelle est la limite du distributeur par jour", "What is the daily cash machine limit"),
    ),
    "balance": (
        ("Quel est le solde de mon compte", "What is my account balance"),
        ("Combien d'argent ai-je sur mon compte", "How much money do I have in my account"),
        ("Pouvez-vous vérifier mon solde", "Can you check my balance"),
        ("Je voudrais connaître mon solde actuel", "I would like to know my current balance"),
    ),
    "business_loan": (
        ("Je voudrais un prêt pour mon entreprise", "I would like a loan for my business"),
        ("Comment demander un prêt professionnel", "How do I apply for a business loan"),
        ("Ma société a besoin d'un financement", "My company needs financing"),
        ("Quels sont vos taux pour les prêts professionnels", "What are your rates for business loans"),
    ),
    "card_issues": (
        ("Ma carte ne fonctionne pas", "My card does not work"),
        ("Ma carte a été refusée au magasin", "My card was declined at the shop"),
        ("Ma carte bancaire est abîmée", "My bank card is damaged"),
        ("La puce de ma carte est cassée", "The chip on my card is broken"),
    ),
    "cash_deposit": (
        ("Je veux déposer de l'argent liquide", "I want to deposit cash"),
        ("Comment verser des espèces sur mon compte", "How do I pay cash into my account"),
        ("Où puis-je déposer des espèces", "Where can I deposit cash"),
        ("Puis-je déposer de l'argent en agence", "Can I deposit money at a branch"),
    ),
    "direct_debit": (
        ("Je veux mettre en place un prélèvement automatique", "I want to set up a direct debit"),
        ("Comment annuler un prélèvement", "How do I cancel a direct debit"),
        ("Un prélèvement a été débité deux fois", "A direct debit was taken twice"),
        ("Veuillez arrêter mon prélèvement automatique", "Please stop my direct debit"),
    ),
    "freeze": (
        ("Je veux bloquer ma carte", "I want to freeze my card"),
        ("Veuillez bloquer ma carte tout de suite", "Please block my card right now"),
        ("Comment geler mon compte", "How do I freeze my account"),
        ("J'ai perdu ma carte bloquez-la", "I lost my card block it"),
    ),
    "high_value_payment": (
        ("Je dois faire un paiement important", "I need to make a large payment"),
        ("Comment envoyer un virement d'une grosse somme", "How do I send a large transfer"),
        ("Je veux payer vingt mille euros", "I want to pay twenty thousand euros"),
        ("Puis-je virer une grosse somme aujourd'hui", "Can I transfer a large amount today"),
    ),
    "joint_account": (
        ("Je veux ouvrir un compte joint", "I want to open a joint account"),
        ("Puis-je ajouter ma femme à mon compte", "Can I add my wife to my account"),
        ("Comment ouvrir un compte commun", "How do I open a shared account"),
        ("Nous voudrions un compte joint", "We would like a joint account"),
    ),
    "latest_transactions": (
        ("Montrez-moi mes dernières opérations", "Show me my latest transactions"),
        ("Quels sont mes paiements récents", "What are my recent payments"),
        ("Je veux voir mes dernières transactions", "I want to see my last transactions"),
        ("Pouvez-vous lister mes achats récents", "Can you list my recent purchases"),
    ),
    "pay_bill": (
        ("Je veux payer ma facture d'électricité", "I want to pay my electricity bill"),
        ("Comment payer une facture en ligne", "How do I pay a bill online"),
        ("Veuillez régler ma facture de téléphone", "Please pay my phone bill"),
        ("Je dois payer ma facture d'eau", "I need to pay my water bill"),
    ),
}

# --------------------------------------------------------------------------------------------
# CoVoST-2 (X -> en): Common Voice style sentences with English translations.
# Rows 0-7 train, 8 train_covost, 9-11 dev, 12-14 test; the last 2 rows exist only in Common
# Voice's validated.tsv (no translation) so that loaders must join instead of concatenating.
# --------------------------------------------------------------------------------------------
COVOST_SENTENCES: dict[str, tuple[tuple[str, str], ...]] = {
    "fr": (
        ("Le village compte environ trois cents habitants.", "The village has about three hundred inhabitants."),
        ("Cette église a été construite au douzième siècle.", "This church was built in the twelfth century."),
        ("Il a joué pour plusieurs clubs en Italie.", "He played for several clubs in Italy."),
        ("La rivière traverse une grande forêt.", "The river crosses a large forest."),
        ("Elle est née dans une petite ville du sud.", "She was born in a small town in the south."),
        ("Le musée est ouvert tous les jours sauf le lundi.", "The museum is open every day except Monday."),
        ("Les résultats ont été publiés la semaine dernière.", "The results were published last week."),
        ("Je ne suis pas d'accord avec cette proposition.", "I do not agree with this proposal."),
        ("Le groupe a sorti son premier album en automne.", "The band released its first album in autumn."),
        ("La séance est levée.", "The sitting is closed."),
        ("Nous devons protéger nos ressources naturelles.", "We must protect our natural resources."),
        ("Le château domine toute la vallée.", "The castle overlooks the whole valley."),
        ("Il travaille comme médecin à Paris.", "He works as a doctor in Paris."),
        ("Cette espèce vit dans les montagnes.", "This species lives in the mountains."),
        ("Merci pour votre réponse rapide.", "Thank you for your quick reply."),
        ("La gare se trouve au centre de la ville.", ""),
        ("Le pont a été détruit pendant la guerre.", ""),
    ),
    "de": (
        ("Das Dorf liegt am Ufer eines kleinen Sees.", "The village lies on the shore of a small lake."),
        ("Die Kirche wurde im zwölften Jahrhundert erbaut.", "The church was built in the twelfth century."),
        ("Er spielte für mehrere Vereine in Spanien.", "He played for several clubs in Spain."),
        ("Der Fluss fließt durch einen großen Wald.", "The river flows through a large forest."),
        ("Sie wurde in einer kleinen Stadt geboren.", "She was born in a small town."),
        ("Das Museum ist montags geschlossen.", "The museum is closed on Mondays."),
        ("Die Ergebnisse wurden letzte Woche veröffentlicht.", "The results were published last week."),
        ("Ich bin mit diesem Vorschlag nicht einverstanden.", "I do not agree with this proposal."),
        ("Die Band veröffentlichte ihr erstes Album im Herbst.", "The band released its first album in autumn."),
        ("Die Sitzung ist geschlossen.", "The sitting is closed."),
        ("Wir müssen unsere Umwelt schützen.", "We must protect our environment."),
        ("Die Burg überragt das ganze Tal.", "The castle towers over the whole valley."),
        ("Er arbeitet als Arzt in Berlin.", "He works as a doctor in Berlin."),
        ("Diese Art lebt in den Bergen.", "This species lives in the mountains."),
        ("Vielen Dank für Ihre schnelle Antwort.", "Many thanks for your quick reply."),
        ("Der Bahnhof liegt im Zentrum der Stadt.", ""),
        ("Die Brücke wurde im Krieg zerstört.", ""),
    ),
}

# --------------------------------------------------------------------------------------------
# BABEL Swahili (IARPA_BABEL_OP2_202): telephone conversations. Each utterance is
# (text spoken by espeak, BABEL-style transcript). The transcript follows BABEL conventions:
# lowercase, no punctuation, noise/hesitation tags such as <hes>, <breath>, and (()) for an
# unintelligible stretch (the audio still contains the word, as in real data).
# --------------------------------------------------------------------------------------------
BABEL_CONVERSATIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "training/BABEL_OP2_202_10524_20131009_200043_inLine": (
        ("Habari za asubuhi, rafiki yangu.", "habari za asubuhi rafiki yangu"),
        ("Nimefurahi eee sana kusikia sauti yako.", "nimefurahi <hes> sana kusikia sauti yako"),
        ("Jana nilienda sokoni kununua matunda.", "jana nilienda sokoni kununua matunda"),
        ("Watoto wako wanaendeleaje shuleni?", "watoto wako wanaendeleaje shuleni"),
        ("Sawa, tutaonana kesho jioni.", "<breath> sawa tutaonana kesho jioni"),
    ),
    "training/BABEL_OP2_202_13792_20131102_154512_outLine": (
        ("Hujambo mama, habari za nyumbani?", "hujambo mama habari za nyumbani"),
        ("Mvua imenyesha sana wiki hii.", "mvua imenyesha sana wiki hii"),
        ("Shamba letu lina mahindi mengi mwaka huu.", "shamba letu (()) mahindi mengi mwaka huu"),
        ("Ninafanya kazi mjini siku hizi.", "ninafanya kazi mjini siku hizi"),
        ("Sawa, nitakupigia simu baadaye.", "sawa nitakupigia simu baadaye"),
    ),
    "dev/BABEL_OP2_202_28522_20131204_183307_inLine": (
        ("Mambo vipi kaka?", "mambo vipi kaka"),
        ("Nimechoka kidogo kwa sababu ya kazi.", "nimechoka kidogo kwa sababu ya kazi"),
        ("Bei ya chakula imepanda eee sana.", "bei ya chakula imepanda <hes> sana"),
        ("Tunapanga kusafiri kwenda Mombasa.", "tunapanga kusafiri kwenda (())"),
        ("Asante sana, kwaheri.", "asante sana kwaheri"),
    ),
}
